-- Common resources, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- common_resources: an organization's object definitions and transformations, one JSON document
-- each, at one of three scopes: the organization, an element (element_key), or one of its instances
-- (instance_id; deleted with the instance). The CHECK ties the scope to the one column it uses.
-- name keeps the caller's first spelling; name_key is its ASCII-lowercased form, computed by the
-- application, under which names are unique per organization, kind and scope. The unique index
-- reads the unused scope columns as '' and 0 (a NULL would make every row distinct), and lookups
-- compare the same expressions so they use it. Timestamps come from the application's clock.
-- element_key and name_key sort bytewise (COLLATE "C"), as SQLite sorts them, so a listing comes in
-- the same order on both databases whatever the database's locale.
--
-- common_resource_generation: one row, a counter every node polls to forget its cached documents.
-- The trigger bumps it for every row written or deleted, in the writing transaction, whichever
-- statement did it: the store's puts and deletes, and the cascade from a deleted instance or
-- organization. Per row, not per statement: a statement trigger would also fire for the cascade
-- of every instance deleted, resources or not, taking the counter's row lock each time.

CREATE TABLE common_resources (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('definition', 'transformation')),
    scope           TEXT NOT NULL CHECK (scope IN ('organization', 'element', 'instance')),
    element_key     TEXT COLLATE "C",
    instance_id     BIGINT REFERENCES instances (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT COLLATE "C" NOT NULL,
    document        TEXT NOT NULL,   -- JSON
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CHECK ((scope = 'element') = (element_key IS NOT NULL) AND (scope = 'instance') = (instance_id IS NOT NULL))
);
CREATE UNIQUE INDEX common_resources_name ON common_resources
    (organization_id, kind, scope, (coalesce(element_key, '')), (coalesce(instance_id, 0)), name_key);
-- The cascade from instances.
CREATE INDEX common_resources_instance ON common_resources (instance_id);

CREATE TABLE common_resource_generation (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO common_resource_generation (id, generation) VALUES (1, 0);

CREATE FUNCTION bump_common_resource_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE common_resource_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER common_resources_changed AFTER INSERT OR UPDATE OR DELETE ON common_resources
    FOR EACH ROW EXECUTE FUNCTION bump_common_resource_generation();
