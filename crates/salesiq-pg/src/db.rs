//! What every query shares: running a cached statement on a client or a
//! transaction, mapping errors, and the columns of values that have no
//! column type of their own (contacts, visitor events, chat states).

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::GenericClient;
use salesiq_session::{Author, ChatState, StoreError, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// Query parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The database failed: `error` is the source, behind a message that
/// says what PostgreSQL said.
pub(crate) fn backend(error: impl Into<DriverError>) -> StoreError {
    StoreError::backend(error.into())
}

/// An `UPDATE` of one row by its id: [`StoreError::NotFound`] (naming
/// `what`) when no row had it.
pub(crate) fn updated(changed: u64, what: impl FnOnce() -> String) -> StoreResult<()> {
    if changed == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}

/// `error`, or `taken` when it is a unique violation (SQLSTATE 23505).
pub(crate) fn unique_or(error: tokio_postgres::Error, taken: StoreError) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        taken
    } else {
        backend(error)
    }
}

/// A driver or pool error, displayed with its cause (tokio-postgres shows
/// only "db error"); its [`source`](std::error::Error::source) is the
/// driver's (or the pool's) error itself.
#[derive(Debug)]
pub(crate) struct DriverError {
    message: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl From<tokio_postgres::Error> for DriverError {
    fn from(error: tokio_postgres::Error) -> Self {
        let message = match (error.as_db_error(), std::error::Error::source(&error)) {
            (Some(db), _) => format!("{error}: {} (SQLSTATE {})", db.message(), db.code().code()),
            (None, Some(cause)) => format!("{error}: {cause}"),
            (None, None) => error.to_string(),
        };
        Self {
            message,
            error: Box::new(error),
        }
    }
}

impl From<deadpool_postgres::PoolError> for DriverError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            error => Self {
                message: format!("connection pool: {error}"),
                error: Box::new(error),
            },
        }
    }
}

impl From<deadpool_postgres::BuildError> for DriverError {
    fn from(error: deadpool_postgres::BuildError) -> Self {
        Self {
            message: format!("connection pool: {error}"),
            error: Box::new(error),
        }
    }
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// Now, as a `timestamptz` keeps it (microseconds), so that what a store
/// returns at once equals what it reads back later.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Rows of `sql` (a statement prepared once per connection).
pub(crate) async fn rows(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

/// The row of `sql`, if any.
pub(crate) async fn row(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}

/// How many rows `sql` changed.
pub(crate) async fn execute(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}

/// Column `i` of `row`, a type mismatch being a backend error, not a panic.
pub(crate) fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i).map_err(backend)
}

pub(crate) use salesiq_session::columns::{
    contact_from_key as contact, contact_key, event_columns, event_from_columns as event,
};

/// A chat state's column.
pub(crate) fn state_column(state: ChatState) -> Result<&'static str, StoreError> {
    match state {
        ChatState::Waiting => Ok("waiting"),
        ChatState::Active => Ok("active"),
        ChatState::Ended => Ok("ended"),
        other => Err(StoreError::backend_message(format!(
            "salesiq-pg does not know the chat state {other:?}"
        ))),
    }
}

/// The chat state [`state_column`] wrote.
pub(crate) fn state(column: &str) -> ChatState {
    match column {
        "active" => ChatState::Active,
        "ended" => ChatState::Ended,
        _ => ChatState::Waiting,
    }
}

/// A transcript author as two columns: kind and name.
pub(crate) fn author_columns(author: &Author) -> (&'static str, Option<&str>) {
    match author {
        Author::Visitor => ("visitor", None),
        Author::Operator(name) => ("operator", Some(name.as_str())),
        _ => ("system", None),
    }
}

/// The author [`author_columns`] wrote.
pub(crate) fn author(kind: &str, name: Option<String>) -> Author {
    match (kind, name) {
        ("operator", Some(name)) => Author::Operator(name),
        ("visitor", _) => Author::Visitor,
        _ => Author::System,
    }
}
