//! Common resources: an organization's object definitions and their transformations onto element
//! objects, checked when written, and composed per instance for the hub (`mapping::common`).
//!
//! Owns the rules of the documents' life: a definition may not take the name of an element's
//! object; a transformation needs a definition and must compose onto its element's object (every
//! problem named in the 400); an instance's documents override the organization's field by field;
//! a definition still mapped cannot be deleted. The store keeps the documents per organization
//! (another organization's are never seen); this module keeps, per node, the composed objects of
//! each instance, forgotten on every change: at once on the node that made it, and within
//! [`GENERATION_CHECK`] on the others ([`watch`] reads the store's change counter).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mapping::common::{compose, documents, CommonObjects, Definition, Transformation};
use mapping::ObjectCatalog;
use serde_json::{json, Map, Value};
use store::{
    InstanceId, InstanceRecord, OrganizationId, PutMode, ResourceDocument, ResourceKind, ResourceScope, StoreError,
};

use crate::Platform;

/// How often each node asks the store whether any organization's documents changed.
pub const GENERATION_CHECK: Duration = Duration::from_millis(500);
/// Instances whose composed objects are kept at most; the cache is emptied when it would grow past.
const CAPACITY: usize = 10_000;

/// Why a document was refused; each names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A 400: the document, its name, or what it maps is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A 404: no such document (or element, or instance of the caller's).
    #[error("{0}")]
    NotFound(String),
    /// A 409: it exists already (create), or something still depends on it (delete).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a definition is kept.
#[derive(Debug, Clone, Copy)]
pub enum DefinitionLevel<'a> {
    Organization,
    Instance(&'a InstanceRecord),
}

/// Where a transformation is kept: for every instance of an element, or for one instance.
#[derive(Debug, Clone, Copy)]
pub enum TransformationLevel<'a> {
    /// The element's key or numeric id, as the client wrote it.
    Element(&'a str),
    Instance(&'a InstanceRecord),
}

/// The per-node cache of composed common resources; one per process, in [`Platform`].
#[derive(Debug, Default)]
pub struct CommonCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// The store's change counter when the cache was last checked.
    generation: Option<i64>,
    /// Bumped by every forget: objects composed before a forget are never put back after it.
    epoch: u64,
    map: HashMap<InstanceId, Arc<CommonObjects>>,
}

impl CommonCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything (a document changed).
    pub fn forget(&self) {
        let mut entries = self.entries();
        entries.epoch += 1;
        entries.map.clear();
    }

    /// Forgets everything if the store's change counter moved since the last look.
    fn observe(&self, generation: i64) {
        let mut entries = self.entries();
        if entries.generation != Some(generation) {
            entries.generation = Some(generation);
            entries.epoch += 1;
            entries.map.clear();
        }
    }
}

/// Reads the store's change counter every [`GENERATION_CHECK`] and forgets this node's composed
/// objects when another node changed a document. Runs until `stop` completes.
pub async fn watch(platform: Platform, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        match platform.store.resources_generation().await {
            Ok(generation) => platform.common.observe(generation),
            Err(error) => tracing::warn!(%error, "reading the common resources' change counter failed"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(GENERATION_CHECK) => {}
        }
    }
}

impl Platform {
    /// The common resources `instance` can call, composed (cached per node).
    pub async fn common_objects(&self, instance: &InstanceRecord) -> Result<Arc<CommonObjects>, StoreError> {
        let epoch = {
            let entries = self.common.entries();
            if let Some(objects) = entries.map.get(&instance.id) {
                return Ok(Arc::clone(objects));
            }
            entries.epoch
        };
        let objects = Arc::new(self.compose_for(instance).await?);
        let mut entries = self.common.entries();
        if entries.epoch == epoch {
            if entries.map.len() >= CAPACITY {
                entries.map.clear();
            }
            entries.map.insert(instance.id, Arc::clone(&objects));
        }
        Ok(objects)
    }

    async fn compose_for(&self, instance: &InstanceRecord) -> Result<CommonObjects, StoreError> {
        let scopes = [
            ResourceScope::Organization,
            ResourceScope::Element(instance.element_key.clone()),
            ResourceScope::Instance(instance.id),
        ];
        let documents = self.store.resources(instance.organization_id, None, &scopes).await?;
        let layers = Layers::of(&documents);
        let mut objects = CommonObjects::default();
        for name in layers.transformed_names() {
            let composed =
                layers.definition(&name).ok_or_else(|| format!("{name} has no definition")).and_then(|definition| {
                    let transformation = layers.transformation(&name).unwrap_or_default();
                    compose(&instance.element_key, &name, &definition, &transformation)
                        .map_err(|error| error.to_string())
                });
            match composed {
                Ok(object) => objects.insert(object),
                Err(problem) => {
                    tracing::warn!(instance_id = instance.id.get(), object = %name, %problem, "a common resource cannot be used");
                    objects.broken(&name, problem);
                }
            }
        }
        Ok(objects)
    }

    /// Stores definition `name` at `level` (`mode`: create, replace or either) once it is valid,
    /// and every transformation of it still composes; returns it as the client reads it.
    pub async fn put_definition(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
        name: &str,
        body: Value,
        mode: PutMode,
    ) -> Result<Value, ResourceError> {
        let definition = self.check_definition(level, name, body)?;
        self.check_dependents(organization, level, name, &definition).await?;
        let scope = definition_scope(level);
        let value = serde_json::to_value(&definition).map_err(|error| ResourceError::Invalid(error.to_string()))?;
        let stored = self.store.put_resource(organization, ResourceKind::Definition, &scope, name, &value, mode).await;
        self.common.forget();
        Ok(definition_view(&stored.map_err(|error| named(error, "definition", name))?))
    }

    /// Definition `name` as `body` gives it, checked on its own (its name, shape, paths and limits).
    pub fn check_definition(
        &self,
        level: DefinitionLevel<'_>,
        name: &str,
        body: Value,
    ) -> Result<Definition, ResourceError> {
        documents::check_name(name).map_err(ResourceError::Invalid)?;
        self.refuse_builtin_name(name, level)?;
        let definition: Definition = parse("definition", body)?;
        definition.check().map_err(|problems| invalid("definition", name, &problems))?;
        Ok(definition)
    }

    /// Definition `name` at `level`, as the client reads it.
    pub async fn definition(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
        name: &str,
    ) -> Result<Value, ResourceError> {
        let found = self.store.resource(organization, ResourceKind::Definition, &definition_scope(level), name).await?;
        found.as_ref().map(definition_view).ok_or_else(|| not_found("definition", name))
    }

    /// Every definition at `level`, by name.
    pub async fn definitions(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
    ) -> Result<Map<String, Value>, ResourceError> {
        let found =
            self.store.resources(organization, Some(ResourceKind::Definition), &[definition_scope(level)]).await?;
        Ok(found.iter().map(|document| (document.name.clone(), definition_view(document))).collect())
    }

    /// Deletes definition `name` at `level`, unless a transformation would be left without one.
    pub async fn delete_definition(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
        name: &str,
    ) -> Result<(), ResourceError> {
        let mapped = self.transformations_of(organization, level, name).await?;
        let other_level = match level {
            DefinitionLevel::Organization => None,
            DefinitionLevel::Instance(_) => {
                self.store.resource(organization, ResourceKind::Definition, &ResourceScope::Organization, name).await?
            }
        };
        if let (Some(first), None) = (mapped.first(), other_level) {
            return Err(ResourceError::Conflict(format!(
                "{name} is still mapped ({first}); delete its transformations first"
            )));
        }
        let deleted =
            self.store.delete_resource(organization, ResourceKind::Definition, &definition_scope(level), name).await?;
        self.common.forget();
        deleted.then_some(()).ok_or_else(|| not_found("definition", name))
    }

    /// Stores transformation `name` at `level` once it composes with its definition onto the
    /// element's object (an instance's over its organization's); returns it as the client reads it.
    pub async fn put_transformation(
        &self,
        organization: OrganizationId,
        level: TransformationLevel<'_>,
        name: &str,
        body: Value,
        mode: PutMode,
    ) -> Result<Value, ResourceError> {
        documents::check_name(name).map_err(ResourceError::Invalid)?;
        let (scope, element_key) = self.transformation_scope(level)?;
        let transformation: Transformation = parse("transformation", body)?;
        transformation.check().map_err(|problems| invalid("transformation", name, &problems))?;
        let layers = self.layers(organization, &element_key, level_instance(level)).await?;
        let definition = layers.definition(name).ok_or_else(|| {
            ResourceError::Invalid(format!(
                "There is no definition of {name}: POST /organizations/objects/{name}/definitions first"
            ))
        })?;
        let effective = match level {
            TransformationLevel::Element(_) => transformation.clone(),
            TransformationLevel::Instance(_) => match layers.element_transformation(name) {
                Some(base) => base.overlaid(&transformation),
                None => transformation.clone(),
            },
        };
        compose(&element_key, name, &definition, &effective)
            .map_err(|error| ResourceError::Invalid(format!("Invalid transformation of {name}: {error}")))?;
        let value = serde_json::to_value(&transformation).map_err(|error| ResourceError::Invalid(error.to_string()))?;
        let stored =
            self.store.put_resource(organization, ResourceKind::Transformation, &scope, name, &value, mode).await;
        self.common.forget();
        Ok(transformation_view(&stored.map_err(|error| named(error, "transformation", name))?))
    }

    /// Transformation `name` at `level`, as the client reads it.
    pub async fn transformation(
        &self,
        organization: OrganizationId,
        level: TransformationLevel<'_>,
        name: &str,
    ) -> Result<Value, ResourceError> {
        let (scope, _) = self.transformation_scope(level)?;
        let found = self.store.resource(organization, ResourceKind::Transformation, &scope, name).await?;
        found.as_ref().map(transformation_view).ok_or_else(|| not_found("transformation", name))
    }

    /// Every transformation at `level`, by name.
    pub async fn transformations(
        &self,
        organization: OrganizationId,
        level: TransformationLevel<'_>,
    ) -> Result<Map<String, Value>, ResourceError> {
        let (scope, _) = self.transformation_scope(level)?;
        let found = self.store.resources(organization, Some(ResourceKind::Transformation), &[scope]).await?;
        Ok(found.iter().map(|document| (document.name.clone(), transformation_view(document))).collect())
    }

    /// Deletes transformation `name` at `level`.
    pub async fn delete_transformation(
        &self,
        organization: OrganizationId,
        level: TransformationLevel<'_>,
        name: &str,
    ) -> Result<(), ResourceError> {
        let (scope, _) = self.transformation_scope(level)?;
        let deleted = self.store.delete_resource(organization, ResourceKind::Transformation, &scope, name).await?;
        self.common.forget();
        deleted.then_some(()).ok_or_else(|| not_found("transformation", name))
    }

    /// A 400 when `name` is an element object's (at instance level: its element's) or a path
    /// segment of the hub API.
    fn refuse_builtin_name(&self, name: &str, level: DefinitionLevel<'_>) -> Result<(), ResourceError> {
        if hub::objects::is_reserved(name) {
            return Err(ResourceError::Invalid(format!("{name} is a path of the hub API and cannot name an object")));
        }
        let elements: Vec<&str> = match level {
            DefinitionLevel::Organization => self.catalog.keys(),
            DefinitionLevel::Instance(instance) => vec![instance.element_key.as_str()],
        };
        for element in elements {
            if let Some((builtin, _)) = ObjectCatalog::builtin().object(element, name) {
                return Err(ResourceError::Invalid(format!(
                    "{name} is the name of {element}'s object {builtin}; choose another name"
                )));
            }
        }
        Ok(())
    }

    /// A 400 naming the first transformation of `name` that `definition` would break.
    async fn check_dependents(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
        name: &str,
        definition: &Definition,
    ) -> Result<(), ResourceError> {
        let scopes = match level {
            DefinitionLevel::Organization => self.element_scopes(),
            DefinitionLevel::Instance(instance) => vec![ResourceScope::Instance(instance.id)],
        };
        let documents = self.store.resources(organization, Some(ResourceKind::Transformation), &scopes).await?;
        for document in documents.iter().filter(|document| document.name.eq_ignore_ascii_case(name)) {
            let (element_key, base) = match (&document.scope, level) {
                (ResourceScope::Element(key), DefinitionLevel::Organization) => (key.clone(), None),
                (ResourceScope::Instance(id), DefinitionLevel::Instance(instance)) if *id == instance.id => {
                    let layers = self.layers(organization, &instance.element_key, Some(instance.id)).await?;
                    (instance.element_key.clone(), layers.element_transformation(name))
                }
                _ => continue,
            };
            let Ok(transformation) = serde_json::from_value::<Transformation>(document.document.clone()) else {
                continue;
            };
            let effective = base.map_or_else(|| transformation.clone(), |base| base.overlaid(&transformation));
            compose(&element_key, name, definition, &effective).map_err(|error| {
                ResourceError::Invalid(format!(
                    "The {} transformation of {name} would break: {error}",
                    scope_text(&document.scope)
                ))
            })?;
        }
        Ok(())
    }

    /// Where the transformations that need definition `name` at `level` are kept, as text.
    async fn transformations_of(
        &self,
        organization: OrganizationId,
        level: DefinitionLevel<'_>,
        name: &str,
    ) -> Result<Vec<String>, ResourceError> {
        let scopes = match level {
            DefinitionLevel::Organization => self.element_scopes(),
            DefinitionLevel::Instance(instance) => vec![ResourceScope::Instance(instance.id)],
        };
        let documents = self.store.resources(organization, Some(ResourceKind::Transformation), &scopes).await?;
        Ok(documents
            .iter()
            .filter(|document| document.name.eq_ignore_ascii_case(name))
            .map(|document| scope_text(&document.scope))
            .collect())
    }

    /// The element level of every element in the catalog.
    fn element_scopes(&self) -> Vec<ResourceScope> {
        self.catalog.keys().into_iter().map(|key| ResourceScope::Element(key.to_string())).collect()
    }

    fn transformation_scope(&self, level: TransformationLevel<'_>) -> Result<(ResourceScope, String), ResourceError> {
        match level {
            TransformationLevel::Element(key_or_id) => {
                let element = self.catalog.get(key_or_id).ok_or_else(|| {
                    let shown: String = key_or_id.chars().take(64).flat_map(char::escape_debug).collect();
                    ResourceError::NotFound(format!("No element '{shown}'"))
                })?;
                Ok((ResourceScope::Element(element.key.clone()), element.key.clone()))
            }
            TransformationLevel::Instance(instance) => {
                Ok((ResourceScope::Instance(instance.id), instance.element_key.clone()))
            }
        }
    }

    /// The organization's documents that apply to `element_key` (and `instance`).
    async fn layers(
        &self,
        organization: OrganizationId,
        element_key: &str,
        instance: Option<InstanceId>,
    ) -> Result<Layers, StoreError> {
        let mut scopes = vec![ResourceScope::Organization, ResourceScope::Element(element_key.to_string())];
        scopes.extend(instance.map(ResourceScope::Instance));
        Ok(Layers::of(&self.store.resources(organization, None, &scopes).await?))
    }
}

fn level_instance(level: TransformationLevel<'_>) -> Option<InstanceId> {
    match level {
        TransformationLevel::Element(_) => None,
        TransformationLevel::Instance(instance) => Some(instance.id),
    }
}

/// The documents that apply to one element or instance, by level.
#[derive(Debug, Default)]
struct Layers {
    definitions: BTreeMap<String, Definition>,
    instance_definitions: BTreeMap<String, Definition>,
    transformations: BTreeMap<String, (String, Transformation)>,
    instance_transformations: BTreeMap<String, (String, Transformation)>,
}

impl Layers {
    /// Sorts `documents` by level; a stored document that no longer parses is left out (logged).
    fn of(documents: &[ResourceDocument]) -> Self {
        let mut layers = Layers::default();
        for document in documents {
            let key = document.name.to_ascii_lowercase();
            let parsed = match document.kind {
                ResourceKind::Definition => {
                    serde_json::from_value::<Definition>(document.document.clone()).map(|definition| {
                        let slot = match document.scope {
                            ResourceScope::Instance(_) => &mut layers.instance_definitions,
                            _ => &mut layers.definitions,
                        };
                        slot.insert(key.clone(), definition);
                    })
                }
                ResourceKind::Transformation => serde_json::from_value::<Transformation>(document.document.clone())
                    .map(|transformation| {
                        let slot = match document.scope {
                            ResourceScope::Instance(_) => &mut layers.instance_transformations,
                            _ => &mut layers.transformations,
                        };
                        slot.insert(key.clone(), (document.name.clone(), transformation));
                    }),
            };
            if let Err(error) = parsed {
                tracing::warn!(name = %document.name, %error, "a stored common resource document does not parse");
            }
        }
        layers
    }

    /// The names with a transformation at either level, as first written.
    fn transformed_names(&self) -> Vec<String> {
        let mut names: BTreeMap<&String, &String> = BTreeMap::new();
        for (key, (name, _)) in self.transformations.iter().chain(&self.instance_transformations) {
            names.entry(key).or_insert(name);
        }
        names.into_values().cloned().collect()
    }

    /// The definition of `name`: the organization's with the instance's over it.
    fn definition(&self, name: &str) -> Option<Definition> {
        let key = name.to_ascii_lowercase();
        match (self.definitions.get(&key), self.instance_definitions.get(&key)) {
            (Some(organization), Some(instance)) => Some(organization.overlaid(instance)),
            (organization, instance) => organization.or(instance).cloned(),
        }
    }

    fn element_transformation(&self, name: &str) -> Option<Transformation> {
        self.transformations.get(&name.to_ascii_lowercase()).map(|(_, transformation)| transformation.clone())
    }

    /// The transformation of `name`: the element level's with the instance's over it.
    fn transformation(&self, name: &str) -> Option<Transformation> {
        let key = name.to_ascii_lowercase();
        let base = self.transformations.get(&key).map(|(_, transformation)| transformation);
        let instance = self.instance_transformations.get(&key).map(|(_, transformation)| transformation);
        match (base, instance) {
            (Some(base), Some(instance)) => Some(base.overlaid(instance)),
            (base, instance) => base.or(instance).cloned(),
        }
    }
}

fn definition_scope(level: DefinitionLevel<'_>) -> ResourceScope {
    match level {
        DefinitionLevel::Organization => ResourceScope::Organization,
        DefinitionLevel::Instance(instance) => ResourceScope::Instance(instance.id),
    }
}

fn level_name(scope: &ResourceScope) -> &'static str {
    match scope {
        ResourceScope::Organization | ResourceScope::Element(_) => "organization",
        ResourceScope::Instance(_) => "instance",
    }
}

fn scope_text(scope: &ResourceScope) -> String {
    match scope {
        ResourceScope::Organization => "organization".to_string(),
        ResourceScope::Element(key) => format!("element {key}"),
        ResourceScope::Instance(id) => format!("instance {}", id.get()),
    }
}

/// A definition as the platforms answered it: the document and its level.
fn definition_view(document: &ResourceDocument) -> Value {
    let mut view = document.document.clone();
    view["level"] = json!(level_name(&document.scope));
    view
}

/// A transformation as the platforms answered it: the document, its level and start date.
fn transformation_view(document: &ResourceDocument) -> Value {
    let mut view = document.document.clone();
    view["level"] = json!(level_name(&document.scope));
    view["objectName"] = json!(document.name);
    view["startDate"] = json!(start_date(document.created_at));
    view
}

/// The platforms' `startDate` format (`2014-12-12 18:03:32.012321`).
fn start_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// A body as `T`, or a 400 naming where it is wrong (`fields[2].type`) and serde's account of
/// what (for an unknown type or option: the value and what was expected).
fn parse<T: serde::de::DeserializeOwned>(what: &str, body: Value) -> Result<T, ResourceError> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let at = if path == "." { String::new() } else { format!(" at {path}") };
        ResourceError::Invalid(format!("Invalid {what}{at}: {}", error.inner()))
    })
}

fn invalid(what: &str, name: &str, problems: &[String]) -> ResourceError {
    let mut problems = problems.to_vec();
    problems.truncate(20);
    ResourceError::Invalid(format!("Invalid {what} of {name}: {}", problems.join("; ")))
}

fn not_found(what: &str, name: &str) -> ResourceError {
    let shown: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    ResourceError::NotFound(format!("No {what} of '{shown}'"))
}

/// A store error of a put, in the API's words.
fn named(error: StoreError, what: &str, name: &str) -> ResourceError {
    match error {
        StoreError::Conflict(_) => {
            ResourceError::Conflict(format!("The {what} of {name} exists already; use PUT to replace it"))
        }
        StoreError::NotFound => not_found(what, name),
        other => ResourceError::Store(other),
    }
}
