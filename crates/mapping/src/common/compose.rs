//! A common resource as a hub object: its definition and transformation composed onto the element
//! object they map, giving an [`ObjectDef`] whose fields are the common fields, each the element
//! field it maps (its vendor path, filters, sort, write rules) under the common name and type,
//! with the [`Conversion`] between the two when they differ. The one mapping engine
//! ([`crate::read`], [`crate::write`]) then reads and writes common records, and CEQL plans a
//! `where` on common names: a condition on a field whose values pass unchanged is pushed down as
//! the element field's would be; one on a converted field keeps no vendor filter and is evaluated
//! by Junction over the mapped rows.

use std::collections::BTreeSet;

use crate::catalog::ObjectCatalog;
use crate::common::documents::{mask, shown, Definition, Directions, Transformation};
use crate::common::CommonObject;
use crate::conversion::Conversion;
use crate::definition::{Accepts, FieldDef, FieldType, ObjectDef};
use crate::path::VendorPath;

/// Why a definition and a transformation do not make an object of the element: every problem,
/// each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ComposeError(pub Vec<String>);

/// The common resource `name` of element `element_key`: `definition` mapped by `transformation`.
pub fn compose(
    element_key: &str,
    name: &str,
    definition: &Definition,
    transformation: &Transformation,
) -> Result<CommonObject, ComposeError> {
    let catalog = ObjectCatalog::builtin();
    if let Some((builtin, _)) = catalog.object(element_key, name) {
        return Err(ComposeError(vec![format!("{name} is the name of {element_key}'s object {builtin}")]));
    }
    let vendor_name = transformation.vendor_name.as_deref().unwrap_or_default();
    let Some((vendor_name, element)) = catalog.object(element_key, vendor_name) else {
        let known: Vec<&str> = catalog.objects(element_key).map(|(name, _)| name).collect();
        return Err(ComposeError(vec![format!(
            "vendorName '{}' is not an object of {element_key} (it has: {})",
            shown(vendor_name),
            known.join(", ")
        )]));
    };
    Composer::new(element_key, vendor_name, element).compose(name, definition, transformation)
}

/// The state of one composition.
struct Composer<'a> {
    element_key: &'a str,
    vendor_name: &'a str,
    element: &'a ObjectDef,
    problems: Vec<String>,
}

impl<'a> Composer<'a> {
    fn new(element_key: &'a str, vendor_name: &'a str, element: &'a ObjectDef) -> Self {
        Composer { element_key, vendor_name, element, problems: Vec::new() }
    }

    fn compose(
        mut self,
        name: &str,
        definition: &Definition,
        transformation: &Transformation,
    ) -> Result<CommonObject, ComposeError> {
        let mut fields = Vec::new();
        // For each composed field, the element field it stands for (None: a vendor path).
        let mut sources: Vec<Option<&str>> = Vec::new();
        let mut hidden = BTreeSet::new();
        let mut dropped = BTreeSet::new();
        for mapped in &transformation.fields {
            let Some(defined) = definition.field(&mapped.path) else {
                self.problems.push(format!("field {} is not in the definition of {name}", shown(&mapped.path)));
                continue;
            };
            if mapped.field_type.is_some_and(|given| given != defined.field_type) {
                self.problems.push(format!(
                    "field {}: type {:?} differs from the definition's {:?}",
                    shown(&mapped.path),
                    mapped.field_type.unwrap_or(defined.field_type),
                    defined.field_type
                ));
                continue;
            }
            let common_format = mask(&defined.path, defined.mask.as_deref());
            let vendor_format = mask(&mapped.path, mapped.mask.as_deref());
            let (Ok(common_format), Ok(vendor_format)) = (common_format, vendor_format) else {
                self.problems.push(format!("field {}: bad mask", shown(&mapped.path)));
                continue;
            };
            let Some((field, source)) = self.field(
                &defined.path,
                defined.field_type,
                &mapped.vendor_path,
                mapped.vendor_type,
                (common_format, vendor_format),
            ) else {
                continue;
            };
            let removed = mapped.removed();
            if removed.from_vendor {
                hidden.insert(field.name.clone());
            }
            if removed.to_vendor {
                dropped.insert(field.name.clone());
            }
            fields.push(field);
            sources.push(source);
        }
        let id_field = self.id_field(&mut fields, &sources, &mut hidden);
        let pass_through = transformation.pass_through().filter(|both| both.from_vendor || both.to_vendor);
        let mut refused = BTreeSet::new();
        if let Some(directions) = pass_through {
            self.pass_through(&mut fields, &sources, directions, &mut hidden, &mut refused);
        }
        if !self.problems.is_empty() {
            return Err(ComposeError(self.problems));
        }
        // Element field names as the composed object names them (mapped, or passed through).
        let names: std::collections::BTreeMap<String, String> = fields
            .iter()
            .enumerate()
            .map(|(position, field)| {
                let source = sources.get(position).copied().flatten().unwrap_or(field.name.as_str());
                (source.to_string(), field.name.clone())
            })
            .collect();
        let renamed = |hub_name: &str| names.get(hub_name).cloned();
        let create_needs_one_of = self.element.create_needs_one_of.iter().filter_map(|name| renamed(name)).collect();
        for field in &mut fields {
            field.accepts.written_with = field.accepts.written_with.iter().filter_map(|name| renamed(name)).collect();
            field.create_default =
                field.create_default.take().and_then(|template| rename_template(&template, &renamed));
        }
        let object = ObjectDef {
            resource: self.element.resource.clone(),
            list_key: self.element.list_key.clone(),
            max_page_size: self.element.max_page_size,
            id_field,
            embedded_in: None,
            operations: self.element.operations.clone(),
            fields,
            create_needs_one_of,
            children: Default::default(),
            by_name: Default::default(),
        };
        object.validate(name).map_err(|problem| ComposeError(vec![problem]))?;
        Ok(CommonObject::new(name, self.vendor_name, object, hidden, dropped, refused))
    }

    /// The composed field for common field `path` mapped to `vendor_path`, and the element field
    /// it stands for.
    fn field(
        &mut self,
        path: &str,
        common_type: FieldType,
        vendor_path: &str,
        vendor_type: Option<FieldType>,
        (common_format, vendor_format): (Option<crate::DateFormat>, Option<crate::DateFormat>),
    ) -> Option<(FieldDef, Option<&'a str>)> {
        let element_field = self.element.field(vendor_path);
        let hub_type = match (element_field, vendor_type) {
            // A date kept in a text or number field, in the mask's format.
            (Some(field), Some(FieldType::Date)) if field.field_type != FieldType::Date => field.field_type,
            (Some(field), Some(given)) if given != field.field_type => {
                self.problems.push(format!(
                    "field {}: vendorType {given:?} differs from {}'s type {:?}",
                    shown(path),
                    field.name,
                    field.field_type
                ));
                return None;
            }
            (Some(field), _) => field.field_type,
            (None, given) => given.unwrap_or(common_type),
        };
        let hub_format = vendor_format;
        // The one format that says how a number counts time: the number side's.
        let number_format = if common_type == FieldType::Number { common_format.as_ref() } else { hub_format.as_ref() };
        if !Conversion::compatible(common_type, hub_type, number_format) {
            self.problems.push(format!(
                "field {}: type {common_type:?} cannot be mapped onto {} of type {hub_type:?}",
                shown(path),
                shown(vendor_path)
            ));
            return None;
        }
        let conversion = Conversion { hub_type, hub_format, format: common_format };
        let identity = conversion.is_identity(common_type);
        let conversion = (!identity).then_some(conversion);
        if let Some(field) = element_field {
            let composed = FieldDef {
                name: path.to_string(),
                field_type: common_type,
                filters: if identity { field.filters.clone() } else { Vec::new() },
                sort: if identity { field.sort.clone() } else { None },
                accepts: if identity { field.accepts.clone() } else { Accepts::default() },
                // Defaults are written as hub values: only where the common value is one.
                create_default: if identity { field.create_default.clone() } else { None },
                create_default_from: if identity { field.create_default_from.clone() } else { None },
                conversion,
                ..field.clone()
            };
            return Some((composed, Some(field.name.as_str())));
        }
        let vendor = self.vendor_path(path, vendor_path)?;
        let writable = self
            .element
            .fields
            .iter()
            .any(|field| field.writable && field.write_target().top_key() == vendor.top_key());
        let composed = FieldDef {
            name: path.to_string(),
            field_type: common_type,
            path: vendor,
            write_path: None,
            vendor_type: None,
            money: None,
            writable,
            filters: Vec::new(),
            sort: None,
            create_default: None,
            create_default_from: None,
            required_on_create: None,
            accepts: Accepts::default(),
            description: None,
            conversion,
        };
        Some((composed, None))
    }

    /// `vendor_path` as a path in the vendor's record, if it starts at a vendor field the element
    /// object reads or writes (so a typo is a 400, not a column of nulls).
    fn vendor_path(&mut self, path: &str, vendor_path: &str) -> Option<VendorPath> {
        let parsed = match VendorPath::parse(vendor_path) {
            Ok(parsed) => parsed,
            Err(problem) => {
                self.problems.push(format!("field {}: vendorPath: {problem}", shown(path)));
                return None;
            }
        };
        let known: BTreeSet<&str> = self
            .element
            .fields
            .iter()
            .flat_map(|field| [field.path.top_key(), field.write_target().top_key()])
            .chain(self.element.children.values().filter_map(|child| child.embedded_in.as_deref()))
            .collect();
        if known.contains(parsed.top_key()) {
            return Some(parsed);
        }
        let names: Vec<&str> = self.element.fields.iter().take(8).map(|field| field.name.as_str()).collect();
        self.problems.push(format!(
            "field {}: unknown vendor field '{}' of {} {}: name one of its fields ({}, …) or a path in the \
             vendor's record under one of {}",
            shown(path),
            shown(vendor_path),
            self.element_key,
            self.vendor_name,
            names.join(", "),
            known.into_iter().collect::<Vec<_>>().join(", ")
        ));
        None
    }

    /// The composed object's id field: the common field mapping the element's id, or else the
    /// element's id field itself, kept out of records (operations address records by it).
    fn id_field(
        &mut self,
        fields: &mut Vec<FieldDef>,
        sources: &[Option<&str>],
        hidden: &mut BTreeSet<String>,
    ) -> String {
        let element_id = self.element.id_field.as_str();
        if let Some(position) = sources.iter().position(|source| *source == Some(element_id)) {
            return fields[position].name.clone();
        }
        if fields.iter().any(|field| field.name.eq_ignore_ascii_case(element_id)) {
            self.problems.push(format!(
                "field {element_id} does not map {}'s id field {element_id}: map it, or name the field otherwise",
                self.vendor_name
            ));
            return element_id.to_string();
        }
        if let Some(id) = self.element.id() {
            fields.push(id.clone());
            hidden.insert(id.name.clone());
        }
        element_id.to_string()
    }

    /// The element's unmapped fields, under their own names (where no common field takes the
    /// name): hidden unless they pass from the vendor, refused in writes unless they pass to it.
    fn pass_through(
        &mut self,
        fields: &mut Vec<FieldDef>,
        sources: &[Option<&str>],
        directions: Directions,
        hidden: &mut BTreeSet<String>,
        refused: &mut BTreeSet<String>,
    ) {
        let taken = |name: &str, fields: &[FieldDef]| {
            fields.iter().any(|field| {
                field.name.eq_ignore_ascii_case(name)
                    || field.name.split(['.', '[']).next().is_some_and(|top| top.eq_ignore_ascii_case(name))
            })
        };
        for element_field in &self.element.fields {
            let mapped = sources.contains(&Some(element_field.name.as_str()));
            if mapped || taken(&element_field.name, fields) {
                continue;
            }
            fields.push(element_field.clone());
            if !directions.from_vendor {
                hidden.insert(element_field.name.clone());
            }
            if !directions.to_vendor {
                refused.insert(element_field.name.clone());
            }
        }
    }
}

/// A `createDefault` template over element names, over the composed names; `None` when it names a
/// field the common resource does not have.
fn rename_template(template: &str, renamed: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut text = template.to_string();
    for name in crate::definition::template_names(template) {
        text = text.replace(&format!("{{{name}}}"), &format!("{{{}}}", renamed(name)?));
    }
    Some(text)
}
