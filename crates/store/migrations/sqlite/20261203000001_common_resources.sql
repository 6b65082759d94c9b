-- Common resources, SQLite dialect. Keep in step with migrations/postgres.
--
-- common_resources: an organization's object definitions and transformations, one JSON document
-- each, at one of three scopes: the organization, an element (element_key), or one of its instances
-- (instance_id; deleted with the instance). The CHECK ties the scope to the one column it uses.
-- name keeps the caller's first spelling; name_key is its ASCII-lowercased form, computed by the
-- application, under which names are unique per organization, kind and scope. The unique index
-- reads the unused scope columns as '' and 0 (a NULL would make every row distinct), and lookups
-- compare the same expressions so they use it. Timestamps come from the application's clock.
--
-- common_resource_generation: one row, a counter every node polls to forget its cached documents.
-- The triggers bump it for every row written or deleted, in the writing transaction, whichever
-- statement did it: the store's puts and deletes, and the cascade from a deleted instance or
-- organization (SQLite fires triggers for rows a foreign key action deletes).

CREATE TABLE common_resources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('definition', 'transformation')),
    scope           TEXT NOT NULL CHECK (scope IN ('organization', 'element', 'instance')),
    element_key     TEXT,
    instance_id     INTEGER REFERENCES instances (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    document        TEXT NOT NULL,   -- JSON
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK ((scope = 'element') = (element_key IS NOT NULL) AND (scope = 'instance') = (instance_id IS NOT NULL))
);
CREATE UNIQUE INDEX common_resources_name ON common_resources
    (organization_id, kind, scope, (coalesce(element_key, '')), (coalesce(instance_id, 0)), name_key);
-- The cascade from instances.
CREATE INDEX common_resources_instance ON common_resources (instance_id);

CREATE TABLE common_resource_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO common_resource_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER common_resources_inserted AFTER INSERT ON common_resources
BEGIN
    UPDATE common_resource_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER common_resources_updated AFTER UPDATE ON common_resources
BEGIN
    UPDATE common_resource_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER common_resources_deleted AFTER DELETE ON common_resources
BEGIN
    UPDATE common_resource_generation SET generation = generation + 1 WHERE id = 1;
END;
