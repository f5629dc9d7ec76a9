-- islet schema version 1: one or more logs, their tiles, bundles, dedup and
-- search rows, checkpoint history, the head (the commit point, guarded by a
-- compare-and-swap on size, root and epoch) and the sequencer lease.
-- Applied by `islet init --store postgres://...` under an advisory lock.

CREATE TABLE logs (
    log_id     integer PRIMARY KEY CHECK (log_id >= 0),
    origin     text    UNIQUE NOT NULL,
    kind       text    NOT NULL CHECK (kind IN ('own', 'mirror')),
    vkey       text    NOT NULL
);

-- The commit point. `epoch` is the fencing token of the writer: a takeover
-- raises it, so a commit by an older leader touches no row.
CREATE TABLE head (
    log_id     integer PRIMARY KEY REFERENCES logs,
    size       bigint  NOT NULL CHECK (size >= 0),
    root       bytea   NOT NULL CHECK (octet_length(root) = 32),
    epoch      bigint  NOT NULL CHECK (epoch >= 0),
    checkpoint bytea   NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who sequences. Times are the database's clock only.
CREATE TABLE lease (
    log_id     integer PRIMARY KEY REFERENCES logs,
    holder     text    NOT NULL,
    epoch      bigint  NOT NULL CHECK (epoch >= 0),
    expires_at timestamptz NOT NULL
);

-- Hash tiles: one row per tile, growing until it is full (a partial tile of
-- width W is the first 32*W bytes).
CREATE TABLE tiles (
    log_id     integer  NOT NULL REFERENCES logs,
    level      smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx        bigint   NOT NULL CHECK (idx >= 0),
    width      smallint NOT NULL CHECK (width BETWEEN 1 AND 256),
    data       bytea    NOT NULL CHECK (octet_length(data) = 32 * width),
    PRIMARY KEY (log_id, level, idx)
);
-- Hashes do not compress: keep them out of line without trying.
ALTER TABLE tiles ALTER COLUMN data SET STORAGE EXTERNAL;

-- Entry bundles: one row per bundle, growing until it holds 256 entries.
CREATE TABLE bundles (
    log_id     integer  NOT NULL REFERENCES logs,
    idx        bigint   NOT NULL CHECK (idx >= 0),
    width      smallint NOT NULL CHECK (width BETWEEN 1 AND 256),
    data       bytea    NOT NULL,
    PRIMARY KEY (log_id, idx)
);

-- A full tile or bundle never changes; a partial one only grows, keeping
-- what it had as its prefix. The database enforces it whoever writes.
CREATE FUNCTION islet_tiles_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.width = 256 AND NEW.data IS DISTINCT FROM OLD.data THEN
        RAISE EXCEPTION 'islet: % % of log % is full and cannot change',
            TG_TABLE_NAME, OLD.idx, OLD.log_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.width < OLD.width
       OR substring(NEW.data FROM 1 FOR octet_length(OLD.data)) IS DISTINCT FROM OLD.data THEN
        RAISE EXCEPTION 'islet: % % of log % may only grow',
            TG_TABLE_NAME, OLD.idx, OLD.log_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
    FOR EACH ROW EXECUTE FUNCTION islet_tiles_only_grow();
CREATE TRIGGER bundles_only_grow BEFORE UPDATE ON bundles
    FOR EACH ROW EXECUTE FUNCTION islet_tiles_only_grow();

-- Exact dedup: the leaf hash of every entry, with its index.
CREATE TABLE entries (
    log_id     integer NOT NULL REFERENCES logs,
    hash       bytea   NOT NULL CHECK (octet_length(hash) = 32),
    leaf_index bigint  NOT NULL CHECK (leaf_index >= 0),
    -- The pending submission that became this leaf, when it came that way.
    pseq       bigint,
    PRIMARY KEY (log_id, hash)
);

-- Every checkpoint signed, by size (cosignatures are added in place).
CREATE TABLE checkpoints (
    log_id     integer NOT NULL REFERENCES logs,
    size       bigint  NOT NULL CHECK (size >= 0),
    checkpoint bytea   NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, size)
);

-- Search: artifact digests and key fingerprints to entry indexes.
CREATE TABLE search (
    log_id     integer  NOT NULL REFERENCES logs,
    kind       smallint NOT NULL,
    key        bytea    NOT NULL,
    leaf_index bigint   NOT NULL CHECK (leaf_index >= 0),
    PRIMARY KEY (log_id, kind, key, leaf_index)
);

-- Submissions verified by any node and waiting for the sequencer.
CREATE TABLE pending (
    log_id      integer NOT NULL REFERENCES logs,
    pseq        bigint  GENERATED ALWAYS AS IDENTITY,
    hash        bytea   NOT NULL CHECK (octet_length(hash) = 32),
    body        bytea   NOT NULL,
    node        text    NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, pseq),
    UNIQUE (log_id, hash)
);
ALTER TABLE pending SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000);
