//! The tables a connection serves: which hub object (or child object) each one reads, and its typed
//! columns. Vendor mode serves the objects of both built-in elements under the names CData's
//! Infusionsoft driver uses ([`vendor_tables`]); instance mode serves the instance's objects.
//!
//! A column is a hub field with a SQL type, and says which conditions on it the hub may be handed
//! ([`ColumnDef::pushable`]): only those where the hub's CEQL selects at least the rows SQLite's
//! own comparison selects, since SQLite re-checks every condition but cannot bring back a row the
//! hub dropped. CEQL compares text ignoring ASCII case (a superset of SQLite's `=`, the same as
//! SQLite's `LIKE`) but also orders text ignoring case, so ranges on text stay in SQLite; CEQL
//! compares date-times as instants and SQLite as text, so a strict range on a date-time is handed
//! over as the non-strict one.

use mapping::{FieldDef, FieldType, ObjectCatalog, ObjectDef, Operation};

use crate::rows::ColumnKind;

/// The element `Profile=…Infusionsoft.apip` names, and the default.
pub const CRM: &str = "infusionsoftcrm";
/// The element with orders, subscriptions and transactions.
pub const ERP: &str = "infusionsofterp";

/// One table: a hub object of an element, or a child object read per parent record.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// The SQL name (`Contacts`); SQLite matches it ignoring case.
    pub name: String,
    /// The element whose catalog holds the object.
    pub element: String,
    /// The hub object (`contacts`), or the parent object of a child table.
    pub object: String,
    /// For a child table: the child's name under the parent (`items` of `orders`).
    pub child: Option<String>,
    /// Columns in order. A child table's first column is its parent's id (`OrderId`).
    pub columns: Vec<ColumnDef>,
    /// Which of insert, update and delete the hub allows on it.
    pub writes: Writes,
    pub description: String,
}

/// The writes a table takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
}

/// One column: a hub field (or a child table's parent id).
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// The hub field's name (`FirstName`).
    pub name: String,
    pub kind: ColumnKind,
    /// The record's id (`Id`): `UPDATE` and `DELETE` must name it.
    pub key: bool,
    /// Whether `INSERT` and `UPDATE` may set it.
    pub writable: bool,
    /// Whether the vendor can sort by it (an `ORDER BY` on it is pushed down).
    pub sortable: bool,
    /// Whether the vendor can filter on it (reported by `--explain` and `sys_tablecolumns`).
    pub vendor_filter: bool,
    /// A child table's parent id: not a hub field; an equality on it picks the parent.
    pub parent_id: bool,
    pub description: String,
}

/// A condition SQLite may hand to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    IsNull,
    IsNotNull,
}

impl ColumnDef {
    /// Whether a condition `op` on this column may be handed to the hub (see the module's doc).
    pub fn pushable(&self, op: Op) -> bool {
        if self.parent_id {
            return op == Op::Eq;
        }
        match op {
            Op::IsNull | Op::IsNotNull | Op::Eq => true,
            Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                matches!(self.kind, ColumnKind::Integer | ColumnKind::Real | ColumnKind::DateTime)
            }
            Op::Like => self.kind == ColumnKind::Text,
        }
    }
}

/// One vendor-mode table: its SQL name, the element and object it reads, and for a child table
/// the child's name and the column holding the parent's id.
struct VendorTable {
    name: &'static str,
    element: &'static str,
    object: &'static str,
    child: Option<(&'static str, &'static str)>,
}

/// Vendor mode's tables, under the names CData's Infusionsoft driver uses.
const VENDOR_TABLES: &[VendorTable] = &[
    VendorTable { name: "Contacts", element: CRM, object: "contacts", child: None },
    VendorTable { name: "Companies", element: CRM, object: "accounts", child: None },
    VendorTable { name: "Opportunities", element: CRM, object: "opportunities", child: None },
    VendorTable { name: "Tasks", element: CRM, object: "tasks", child: None },
    VendorTable { name: "Notes", element: CRM, object: "notes", child: None },
    VendorTable { name: "Tags", element: CRM, object: "tags", child: None },
    VendorTable { name: "Users", element: CRM, object: "users", child: None },
    VendorTable { name: "Campaigns", element: CRM, object: "campaigns", child: None },
    VendorTable { name: "Products", element: CRM, object: "products", child: None },
    VendorTable { name: "Orders", element: ERP, object: "orders", child: None },
    VendorTable { name: "Subscriptions", element: ERP, object: "subscriptions", child: None },
    VendorTable { name: "Transactions", element: ERP, object: "transactions", child: None },
    VendorTable { name: "ContactTags", element: CRM, object: "contacts", child: Some(("tags", "ContactId")) },
    VendorTable { name: "OrderItems", element: ERP, object: "orders", child: Some(("items", "OrderId")) },
    VendorTable { name: "Payments", element: ERP, object: "orders", child: Some(("payments", "OrderId")) },
];

/// Every vendor-mode table, built from the built-in catalog.
pub fn vendor_tables() -> Vec<TableDef> {
    let catalog = ObjectCatalog::builtin();
    VENDOR_TABLES
        .iter()
        .filter_map(|listed| {
            let (_, parent) = catalog.object(listed.element, listed.object)?;
            match listed.child {
                Some((child, column)) => {
                    let definition = parent.children.get(child)?;
                    Some(child_table(listed.name, listed.element, listed.object, child, column, definition))
                }
                None => Some(table(listed.name, listed.element, listed.object, parent)),
            }
        })
        .collect()
}

/// The table of hub object `object` of `element`.
pub fn table(name: &str, element: &str, object: &str, definition: &ObjectDef) -> TableDef {
    let columns = definition.fields.iter().map(|field| column(field, definition)).collect();
    let allows = |operation| definition.operations.contains(&operation);
    TableDef {
        name: name.to_string(),
        element: element.to_string(),
        object: object.to_string(),
        child: None,
        columns,
        writes: Writes {
            insert: allows(Operation::Create),
            update: allows(Operation::Update),
            delete: allows(Operation::Delete),
        },
        description: format!("The {object} of the {element} element"),
    }
}

/// The table of an instance's object `name` from its hub metadata
/// (`GET /hubs/{hub}/objects/{name}/metadata`); `None` when the metadata lacks its fields.
pub fn from_metadata(name: &str, metadata: &serde_json::Value) -> Option<TableDef> {
    let id_field = metadata.get("idField").and_then(serde_json::Value::as_str).unwrap_or("Id");
    let columns = metadata
        .get("fields")?
        .as_array()?
        .iter()
        .map(|field| {
            let flag = |key: &str| field.get(key).and_then(serde_json::Value::as_bool).unwrap_or(false);
            let text = |key: &str| field.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
            let field_name = text("name");
            let key = field_name == id_field;
            let kind = match text("type").as_str() {
                "number" if key || field_name.ends_with("Id") || field_name.ends_with("ID") => ColumnKind::Integer,
                "number" => ColumnKind::Real,
                "boolean" => ColumnKind::Boolean,
                "date" => ColumnKind::DateTime,
                _ => ColumnKind::Text,
            };
            let pushed = field
                .get("pushedDown")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|filters| !filters.is_empty());
            ColumnDef {
                name: field_name,
                kind,
                key,
                writable: flag("writable"),
                sortable: flag("sortable"),
                vendor_filter: pushed,
                parent_id: false,
                description: text("description"),
            }
        })
        .collect();
    let operations: Vec<&str> = metadata
        .get("operations")
        .and_then(serde_json::Value::as_array)
        .map(|operations| operations.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let mut table_name = name.to_string();
    if let Some(first) = table_name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Some(TableDef {
        name: table_name,
        element: "instance".to_string(),
        object: name.to_string(),
        child: None,
        columns,
        writes: Writes {
            insert: operations.contains(&"create"),
            update: operations.contains(&"update"),
            delete: operations.contains(&"delete"),
        },
        description: format!("The instance's {name}"),
    })
}

fn child_table(name: &str, element: &str, parent: &str, child: &str, column: &str, definition: &ObjectDef) -> TableDef {
    let parent_id = ColumnDef {
        name: column.to_string(),
        kind: ColumnKind::Integer,
        key: false,
        writable: false,
        sortable: false,
        vendor_filter: true,
        parent_id: true,
        description: format!("The id of the parent record in {parent}; WHERE {column} = … reads one parent's {child}"),
    };
    let mut columns = vec![parent_id];
    columns
        .extend(definition.fields.iter().map(|field| ColumnDef { sortable: false, ..self::column(field, definition) }));
    TableDef {
        name: name.to_string(),
        element: element.to_string(),
        object: parent.to_string(),
        child: Some(child.to_string()),
        columns,
        writes: Writes::default(),
        description: format!("The {child} of each of the {parent} of the {element} element (read-only)"),
    }
}

fn column(field: &FieldDef, definition: &ObjectDef) -> ColumnDef {
    let key = field.name == definition.id_field;
    ColumnDef {
        name: field.name.clone(),
        kind: kind_of(field, key),
        key,
        writable: field.writable,
        sortable: field.sort.is_some(),
        vendor_filter: !field.filters.is_empty(),
        parent_id: false,
        description: field.description.clone().unwrap_or_default(),
    }
}

/// A number is whole when it is an id (the record's own or another's): by the catalog's `idOf`,
/// or by the name the platforms give such fields (`ContactId`, `OwnerID`).
fn kind_of(field: &FieldDef, key: bool) -> ColumnKind {
    match field.field_type {
        FieldType::String => ColumnKind::Text,
        FieldType::Boolean => ColumnKind::Boolean,
        FieldType::Date => ColumnKind::DateTime,
        FieldType::Number => {
            let names_an_id = field.name.ends_with("Id") || field.name.ends_with("ID");
            if key || names_an_id || field.accepts.id_of.is_some() {
                ColumnKind::Integer
            } else {
                ColumnKind::Real
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_of_both_elements_is_a_table() {
        let tables = vendor_tables();
        assert_eq!(tables.len(), VENDOR_TABLES.len(), "a listed table names no catalog object");
        let catalog = ObjectCatalog::builtin();
        for element in [CRM, ERP] {
            for (object, definition) in catalog.objects(element) {
                let served = tables.iter().any(|table| {
                    catalog
                        .object(&table.element, &table.object)
                        .is_some_and(|(_, served)| table.child.is_none() && served.resource == definition.resource)
                });
                assert!(served, "{element}.{object} has no table");
                for child in definition.children.keys() {
                    let served = tables.iter().any(|table| {
                        table.child.as_deref() == Some(child.as_str())
                            && catalog.object(&table.element, &table.object).map(|(_, parent)| &parent.resource)
                                == Some(&definition.resource)
                    });
                    assert!(served, "{element}.{object}/{child} has no table");
                }
            }
        }
    }

    #[test]
    fn ids_are_integers_amounts_are_real_and_child_tables_lead_with_the_parent_id() {
        let tables = vendor_tables();
        let find = |name: &str| tables.iter().find(|table| table.name == name).unwrap();
        let contacts = find("Contacts");
        let id = contacts.columns.iter().find(|column| column.name == "Id").unwrap();
        assert!(id.key && id.kind == ColumnKind::Integer);
        let orders = find("Orders");
        let total = orders.columns.iter().find(|column| column.name == "InvoiceTotal").unwrap();
        assert_eq!(total.kind, ColumnKind::Real);
        let items = find("OrderItems");
        assert!(items.columns[0].parent_id && items.columns[0].name == "OrderId");
        assert_eq!(items.writes, Writes::default());
    }

    #[test]
    fn text_ranges_stay_in_sqlite_and_date_ranges_are_handed_over() {
        let tables = vendor_tables();
        let contacts = tables.iter().find(|table| table.name == "Contacts").unwrap();
        let first_name = contacts.columns.iter().find(|column| column.name == "FirstName").unwrap();
        assert!(first_name.pushable(Op::Eq) && first_name.pushable(Op::Like));
        assert!(!first_name.pushable(Op::Gt));
        let companies = tables.iter().find(|table| table.name == "Companies").unwrap();
        let created = companies.columns.iter().find(|column| column.name == "DateCreated").unwrap();
        assert!(created.pushable(Op::Gt) && !created.pushable(Op::Like));
    }
}
