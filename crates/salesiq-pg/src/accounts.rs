//! Portals, departments, operators, usernames, photos and credentials.

use salesiq_session::{
    Credentials, Department, DepartmentId, LeftKind, LeftMessage, LeftMessageId, NewOperator,
    Operator, OperatorId, Photo, Portal, Routing, ScramCredentials, StoreError, StoreResult,
};
use tokio_postgres::Row;

use crate::PgStore;
use crate::db::{backend, execute, get, row, rows, unique_or, updated};

const OPERATOR: &str =
    "SELECT id, portal, email, display_name, username, photo_type, photo, max_chats
     FROM operators";

fn operator(row: &Row) -> StoreResult<Operator> {
    let photo = match (
        get::<Option<String>>(row, 5)?,
        get::<Option<Vec<u8>>>(row, 6)?,
    ) {
        (Some(mime_type), Some(data)) => Some(Photo::new(&mime_type, data)),
        _ => None,
    };
    let username: Option<String> = get(row, 4)?;
    let max_chats: Option<i32> = get(row, 7)?;
    Ok(Operator::new(
        OperatorId(get(row, 0)?),
        &get::<String>(row, 1)?,
        &get::<String>(row, 2)?,
        &get::<String>(row, 3)?,
    )
    .with_username(username.as_deref())
    .with_photo(photo)
    .with_max_chats(max_chats.map(|m| u32::try_from(m).unwrap_or(0))))
}

fn operators_of(found: Vec<Row>) -> StoreResult<Vec<Operator>> {
    found.iter().map(operator).collect()
}

fn department(row: &Row) -> StoreResult<Department> {
    let routing: String = get(row, 4)?;
    let timeout: i32 = get(row, 5)?;
    let hours: Option<String> = get(row, 6)?;
    let timezone: Option<String> = get(row, 7)?;
    Ok(Department::new(
        DepartmentId(get(row, 0)?),
        &get::<String>(row, 1)?,
        &get::<String>(row, 2)?,
        get(row, 3)?,
    )
    .with_routing(
        Routing::from_name(&routing).unwrap_or_default(),
        u32::try_from(timeout).unwrap_or(0),
    )
    .with_hours(hours.as_deref(), timezone.as_deref()))
}

/// A count a store keeps as a PostgreSQL INTEGER.
fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub(crate) async fn put_portal(store: &PgStore, portal: &Portal) -> StoreResult<()> {
    let days = int(portal.archive_days);
    let max_chats = int(portal.max_chats_per_operator);
    let name = portal.name.to_ascii_lowercase();
    execute(
        &store.client().await?,
        "INSERT INTO portals (name, locale, archive_days, max_chats, notify) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET locale = $2, archive_days = $3, max_chats = $4, notify = $5",
        &[&name, &portal.locale, &days, &max_chats, &portal.notify],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn portal(store: &PgStore, name: &str) -> StoreResult<Option<Portal>> {
    let name = name.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        "SELECT name, locale, archive_days, max_chats, notify FROM portals WHERE name = $1",
        &[&name],
    )
    .await
    .map_err(backend)?;
    found
        .map(|row| {
            let days: i32 = get(&row, 2)?;
            let max_chats: i32 = get(&row, 3)?;
            let notify: Vec<String> = get(&row, 4)?;
            Ok(
                Portal::new(&get::<String>(&row, 0)?, &get::<String>(&row, 1)?)
                    .with_archive_days(u32::try_from(days).unwrap_or(0))
                    .with_max_chats_per_operator(u32::try_from(max_chats).unwrap_or(0))
                    .with_notify(notify),
            )
        })
        .transpose()
}

pub(crate) async fn add_department(
    store: &PgStore,
    portal: &str,
    name: &str,
    convert_to_ticket: bool,
) -> StoreResult<Department> {
    let portal = portal.to_ascii_lowercase();
    let added = row(
        &store.client().await?,
        "INSERT INTO departments (portal, name, convert_to_ticket) VALUES ($1, $2, $3) RETURNING id",
        &[&portal, &name, &convert_to_ticket],
    )
    .await
    .map_err(|e| unique_or(e, StoreError::Duplicate(name.to_owned())))?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    Ok(Department::new(
        DepartmentId(get(&added, 0)?),
        &portal,
        name,
        convert_to_ticket,
    ))
}

pub(crate) async fn departments(store: &PgStore, portal: &str) -> StoreResult<Vec<Department>> {
    let portal = portal.to_ascii_lowercase();
    let found = rows(
        &store.client().await?,
        r#"SELECT id, portal, name, convert_to_ticket, routing, offer_timeout, hours, timezone
           FROM departments WHERE portal = $1
           ORDER BY name COLLATE "C", id"#,
        &[&portal],
    )
    .await
    .map_err(backend)?;
    found.iter().map(department).collect()
}

pub(crate) async fn assign_department(
    store: &PgStore,
    operator: OperatorId,
    department: DepartmentId,
) -> StoreResult<()> {
    let client = store.client().await?;
    let same_portal = row(
        &client,
        "SELECT 1 FROM operators o JOIN departments d ON d.portal = o.portal
         WHERE o.id = $1 AND d.id = $2",
        &[&operator.0, &department.0],
    )
    .await
    .map_err(backend)?;
    if same_portal.is_none() {
        return Err(StoreError::NotFound(format!(
            "operator {operator} or department {department} of one portal"
        )));
    }
    execute(
        &client,
        "INSERT INTO department_members (department, operator) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
        &[&department.0, &operator.0],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn department_members(
    store: &PgStore,
    department: DepartmentId,
) -> StoreResult<Vec<Operator>> {
    let found = rows(
        &store.client().await?,
        r#"SELECT o.id, o.portal, o.email, o.display_name, o.username, o.photo_type, o.photo,
           o.max_chats FROM operators o JOIN department_members m ON m.operator = o.id
           WHERE m.department = $1 ORDER BY o.display_name COLLATE "C", o.id"#,
        &[&department.0],
    )
    .await
    .map_err(backend)?;
    operators_of(found)
}

pub(crate) async fn add_operator(store: &PgStore, new: &NewOperator) -> StoreResult<Operator> {
    let portal = new.portal.to_ascii_lowercase();
    let added = row(
        &store.client().await?,
        "INSERT INTO operators (portal, email, display_name) VALUES ($1, $2, $3) RETURNING id",
        &[&portal, &new.email, &new.display_name],
    )
    .await
    .map_err(|e| unique_or(e, StoreError::Duplicate(new.email.clone())))?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    Ok(Operator::new(
        OperatorId(get(&added, 0)?),
        &portal,
        &new.email,
        &new.display_name,
    ))
}

pub(crate) async fn operator_by_email(
    store: &PgStore,
    portal: &str,
    email: &str,
) -> StoreResult<Option<Operator>> {
    let portal = portal.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        &format!("{OPERATOR} WHERE portal = $1 AND lower(email) = lower($2)"),
        &[&portal, &email],
    )
    .await
    .map_err(backend)?;
    found.as_ref().map(operator).transpose()
}

pub(crate) async fn operator_by_username(
    store: &PgStore,
    username: &str,
) -> StoreResult<Option<Operator>> {
    let username = username.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        &format!("{OPERATOR} WHERE lower(username) = $1"),
        &[&username],
    )
    .await
    .map_err(backend)?;
    found.as_ref().map(operator).transpose()
}

pub(crate) async fn operators(store: &PgStore, portal: &str) -> StoreResult<Vec<Operator>> {
    let portal = portal.to_ascii_lowercase();
    let found = rows(
        &store.client().await?,
        &format!(r#"{OPERATOR} WHERE portal = $1 ORDER BY display_name COLLATE "C", id"#),
        &[&portal],
    )
    .await
    .map_err(backend)?;
    operators_of(found)
}

pub(crate) async fn username_available(store: &PgStore, username: &str) -> StoreResult<bool> {
    let username = username.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        "SELECT 1 FROM operators WHERE lower(username) = $1",
        &[&username],
    )
    .await
    .map_err(backend)?;
    Ok(found.is_none())
}

pub(crate) async fn claim_username(
    store: &PgStore,
    id: OperatorId,
    username: &str,
) -> StoreResult<Operator> {
    // The rule as the SQLite store applies it; kept lower case.
    let username = salesiq_jid::Username::parse(username)
        .map(|u| u.to_lowercase())
        .map_err(|e| StoreError::InvalidUsername(e.to_string()))?;
    let client = store.client().await?;
    // One statement settles races: of two claims of one name, the second
    // waits on the unique index for the first and fails with 23505; of two
    // claims by one operator, the second finds the username set.
    let claimed = row(
        &client,
        "UPDATE operators SET username = $1 WHERE id = $2 AND username IS NULL
         RETURNING id, portal, email, display_name, username, photo_type, photo, max_chats",
        &[&username, &id.0],
    )
    .await
    .map_err(|e| unique_or(e, StoreError::UsernameTaken))?;
    if let Some(claimed) = claimed {
        return operator(&claimed);
    }
    let exists = row(&client, "SELECT 1 FROM operators WHERE id = $1", &[&id.0])
        .await
        .map_err(backend)?;
    Err(match exists {
        Some(_) => StoreError::UsernameAlreadySet,
        None => StoreError::NotFound(format!("operator {id}")),
    })
}

pub(crate) async fn set_routing(
    store: &PgStore,
    department: DepartmentId,
    routing: Routing,
    offer_timeout_secs: u32,
) -> StoreResult<()> {
    let changed = execute(
        &store.client().await?,
        "UPDATE departments SET routing = $1, offer_timeout = $2 WHERE id = $3",
        &[&routing.as_str(), &int(offer_timeout_secs), &department.0],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("department {department}"))
}

pub(crate) async fn set_hours(
    store: &PgStore,
    department: DepartmentId,
    hours: Option<&str>,
    timezone: Option<&str>,
) -> StoreResult<()> {
    let changed = execute(
        &store.client().await?,
        "UPDATE departments SET hours = $1, timezone = $2 WHERE id = $3",
        &[&hours, &timezone, &department.0],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("department {department}"))
}

pub(crate) async fn add_left_message(
    store: &PgStore,
    m: &LeftMessage,
) -> StoreResult<LeftMessageId> {
    let portal = m.portal.to_ascii_lowercase();
    let added = row(
        &store.client().await?,
        "INSERT INTO left_messages (portal, department, kind, name, email, text, chat, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &portal,
            &m.department.map(|d| d.0),
            &m.kind.as_str(),
            &m.name,
            &m.email,
            &m.text,
            &m.chat.map(|c| c.0),
            &m.at,
        ],
    )
    .await
    .map_err(backend)?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    Ok(LeftMessageId(get(&added, 0)?))
}

pub(crate) async fn left_messages(
    store: &PgStore,
    portal: &str,
    limit: usize,
) -> StoreResult<Vec<LeftMessage>> {
    let portal = portal.to_ascii_lowercase();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let found = rows(
        &store.client().await?,
        "SELECT id, portal, department, kind, name, email, text, chat, at FROM left_messages
         WHERE portal = $1 ORDER BY id DESC LIMIT $2",
        &[&portal, &limit],
    )
    .await
    .map_err(backend)?;
    found
        .iter()
        .map(|row| {
            let kind: String = get(row, 3)?;
            let email: Option<String> = get(row, 5)?;
            Ok(LeftMessage::new(
                &get::<String>(row, 1)?,
                LeftKind::from_name(&kind).unwrap_or(LeftKind::Message),
                &get::<String>(row, 4)?,
                email.as_deref(),
                &get::<String>(row, 6)?,
                get(row, 8)?,
            )
            .with_id(LeftMessageId(get(row, 0)?))
            .with_department(get::<Option<i64>>(row, 2)?.map(DepartmentId))
            .with_chat(get::<Option<i64>>(row, 7)?.map(salesiq_session::ChatId)))
        })
        .collect()
}

pub(crate) async fn set_max_chats(
    store: &PgStore,
    id: OperatorId,
    max: Option<u32>,
) -> StoreResult<()> {
    let max = max.map(int);
    let changed = execute(
        &store.client().await?,
        "UPDATE operators SET max_chats = $1 WHERE id = $2",
        &[&max, &id.0],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("operator {id}"))
}

pub(crate) async fn set_photo(
    store: &PgStore,
    id: OperatorId,
    photo: Option<&Photo>,
) -> StoreResult<()> {
    let (mime_type, data) = photo.map(|p| (&p.mime_type, &p.data)).unzip();
    let changed = execute(
        &store.client().await?,
        "UPDATE operators SET photo_type = $1, photo = $2 WHERE id = $3",
        &[&mime_type, &data, &id.0],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("operator {id}"))
}

pub(crate) async fn set_credentials(
    store: &PgStore,
    id: OperatorId,
    credentials: &Credentials,
) -> StoreResult<()> {
    let changed = execute(
        &store.client().await?,
        "UPDATE operators SET password_hash = $1, scram_sha1 = $2, scram_sha256 = $3 WHERE id = $4",
        &[
            &credentials.password_hash,
            &credentials.scram_sha1.encode(),
            &credentials.scram_sha256.encode(),
            &id.0,
        ],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("operator {id}"))
}

pub(crate) async fn credentials(
    store: &PgStore,
    id: OperatorId,
) -> StoreResult<Option<Credentials>> {
    let found = row(
        &store.client().await?,
        "SELECT password_hash, scram_sha1, scram_sha256 FROM operators WHERE id = $1",
        &[&id.0],
    )
    .await
    .map_err(backend)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let (Some(hash), Some(sha1), Some(sha256)) = (
        get::<Option<String>>(&found, 0)?,
        get::<Option<String>>(&found, 1)?,
        get::<Option<String>>(&found, 2)?,
    ) else {
        return Ok(None);
    };
    let decode = |text: &str| {
        ScramCredentials::decode(text).ok_or_else(|| {
            StoreError::backend_message(format!("bad SCRAM credentials of operator {id}"))
        })
    };
    Ok(Some(Credentials::new(
        &hash,
        decode(&sha1)?,
        decode(&sha256)?,
    )))
}
