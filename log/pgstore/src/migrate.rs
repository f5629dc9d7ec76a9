//! The schema, in versioned migrations applied in order.
//!
//! Each migration is an embedded SQL file. [`migrate`] runs the ones a
//! database has not had, all in one transaction under an advisory
//! transaction lock, so two nodes starting at once apply each exactly
//! once, and a migration that fails leaves the schema as it was. A
//! database migrated by a newer islet is refused rather than touched.

use crate::error::{Error, Result, stmt};

/// The migrations, by version (1, 2, ...), in order.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/001_logs.sql")),
    (2, include_str!("../migrations/002_witnessed.sql")),
];

/// The schema version this build brings a database to.
pub const SCHEMA_VERSION: i32 = 2;

/// The advisory lock key migrations hold (`islet` in ASCII, then 1).
pub const MIGRATION_LOCK: i64 = 0x6973_6c65_7401;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS islet_schema (\
     one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL)";

/// Brings the database to [`SCHEMA_VERSION`]; returns the version it had
/// before (0 for a database without islet's schema).
///
/// # Errors
/// [`Error::SchemaNewer`]; [`Error::Statement`] when a migration fails
/// (nothing of it stays).
pub fn migrate(client: &mut postgres::Client) -> Result<i32> {
    let mut tx = client.transaction().map_err(stmt("begin migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(stmt("migration lock"))?;
    tx.batch_execute(CREATE_VERSION_TABLE)
        .map_err(stmt("schema version table"))?;
    let before: i32 = tx
        .query_opt("SELECT version FROM islet_schema", &[])
        .map_err(stmt("schema version"))?
        .map_or(0, |row| row.get(0));
    if before > SCHEMA_VERSION {
        return Err(Error::SchemaNewer {
            found: before,
            known: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > before) {
        tx.batch_execute(sql).map_err(stmt("migration"))?;
        tx.execute(
            "INSERT INTO islet_schema (version) VALUES ($1) \
             ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version",
            &[version],
        )
        .map_err(stmt("schema version"))?;
    }
    tx.commit().map_err(stmt("commit migration"))?;
    Ok(before)
}

/// The schema version of a database, checked: it must have islet's schema
/// at exactly this build's version.
///
/// # Errors
/// [`Error::NoSchema`]; [`Error::SchemaOlder`] (`islet store schema`
/// brings it up); [`Error::SchemaNewer`]; [`Error::Statement`].
pub fn check(client: &mut postgres::Client) -> Result<()> {
    let exists: bool = client
        .query_one("SELECT to_regclass('islet_schema') IS NOT NULL", &[])
        .map_err(stmt("schema lookup"))?
        .get(0);
    if !exists {
        return Err(Error::NoSchema);
    }
    let found: Option<i32> = client
        .query_opt("SELECT version FROM islet_schema", &[])
        .map_err(stmt("schema version"))?
        .map(|row| row.get(0));
    match found {
        None => Err(Error::NoSchema),
        Some(v) if v > SCHEMA_VERSION => Err(Error::SchemaNewer {
            found: v,
            known: SCHEMA_VERSION,
        }),
        Some(v) if v < SCHEMA_VERSION => Err(Error::SchemaOlder {
            found: v,
            known: SCHEMA_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps_up_to_the_schema_version() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let expected: Vec<i32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
