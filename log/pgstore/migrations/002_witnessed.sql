-- The newest checkpoint of each own log that its witnesses' quorum
-- cosigned, written by the lease holder's witnessing task. Under a
-- fail-closed witness policy it is what every node serves and answers
-- writes against; it only ever grows.
CREATE TABLE witnessed (
    log_id     integer PRIMARY KEY REFERENCES logs,
    size       bigint  NOT NULL CHECK (size >= 0),
    checkpoint bytea   NOT NULL
);
