//! Each operator's message archive (XEP-0313).

use chrono::{DateTime, Utc};
use salesiq_session::{
    ArchivePage, ArchiveQuery, ArchivedMessage, MAX_ARCHIVE_PAGE, OperatorRef, StoreError,
    StoreResult,
};

use crate::PgStore;
use crate::db::{backend, contact, contact_key, execute, get, row, rows, unique_or};

pub(crate) async fn archive(
    store: &PgStore,
    owner: &OperatorRef,
    message: &ArchivedMessage,
) -> StoreResult<()> {
    let (kind, key) = contact_key(&message.with);
    execute(
        &store.client().await?,
        "INSERT INTO archive (portal, username, id, at, with_kind, with_key, outgoing, text)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &owner.portal(),
            &owner.username(),
            &message.id,
            &message.at,
            &kind,
            &key,
            &message.outgoing,
            &message.text,
        ],
    )
    .await
    .map(drop)
    .map_err(|e| {
        unique_or(
            e,
            StoreError::Duplicate(format!("archive id {}", message.id)),
        )
    })
}

pub(crate) async fn archive_all(
    store: &PgStore,
    messages: &[(OperatorRef, ArchivedMessage)],
) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // One statement (so one transaction and one round trip) for the whole
    // batch: the columns as arrays, unnested into rows.
    let mut portals = Vec::with_capacity(messages.len());
    let mut usernames = Vec::with_capacity(messages.len());
    let mut ids = Vec::with_capacity(messages.len());
    let mut ats = Vec::with_capacity(messages.len());
    let mut kinds = Vec::with_capacity(messages.len());
    let mut keys = Vec::with_capacity(messages.len());
    let mut outgoing = Vec::with_capacity(messages.len());
    let mut texts = Vec::with_capacity(messages.len());
    for (owner, m) in messages {
        let (kind, key) = contact_key(&m.with);
        portals.push(owner.portal());
        usernames.push(owner.username());
        ids.push(m.id);
        ats.push(m.at);
        kinds.push(kind);
        keys.push(key);
        outgoing.push(m.outgoing);
        texts.push(m.text.as_str());
    }
    execute(
        &store.client().await?,
        "INSERT INTO archive (portal, username, id, at, with_kind, with_key, outgoing, text)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::timestamptz[],
                              $5::text[], $6::text[], $7::boolean[], $8::text[])
         ON CONFLICT (portal, username, id) DO NOTHING",
        &[
            &portals, &usernames, &ids, &ats, &kinds, &keys, &outgoing, &texts,
        ],
    )
    .await
    .map(drop)
    .map_err(backend)
}

/// The filters every archive query shares: the owner ($1, $2), the
/// contact ($3, $4, or NULL), the time range ($5, $6, or NULL).
const FILTER: &str = "portal = $1 AND username = $2
    AND ($3::text IS NULL OR (with_kind = $3 AND with_key = $4))
    AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at <= $6)";

pub(crate) async fn archived(
    store: &PgStore,
    owner: &OperatorRef,
    query: &ArchiveQuery,
) -> StoreResult<ArchivePage> {
    let (portal, username) = (owner.portal(), owner.username());
    let client = store.client().await?;
    for id in [query.after, query.before].into_iter().flatten() {
        let known = row(
            &client,
            "SELECT 1 FROM archive WHERE portal = $1 AND username = $2 AND id = $3",
            &[&portal, &username, &id],
        )
        .await
        .map_err(backend)?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!("archive id {id}")));
        }
    }
    let with = query.with.as_ref().map(contact_key);
    let kind = with.as_ref().map(|w| w.0);
    let key = with.as_ref().map(|w| w.1.as_str());
    let counted = row(
        &client,
        &format!("SELECT COUNT(*) FROM archive WHERE {FILTER}"),
        &[&portal, &username, &kind, &key, &query.start, &query.end],
    )
    .await
    .map_err(backend)?;
    let count: i64 = match &counted {
        Some(counted) => get(counted, 0)?,
        None => 0,
    };
    let max = query.max.min(MAX_ARCHIVE_PAGE);
    let backwards = query.before.is_some() || (query.last_page && query.after.is_none());
    let (bound, order, from) = if backwards {
        ("id < $7", "DESC", query.before.unwrap_or(i64::MAX))
    } else {
        ("id > $7", "ASC", query.after.unwrap_or(i64::MIN))
    };
    let limit = i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1);
    let found = rows(
        &client,
        &format!(
            "SELECT id, at, with_kind, with_key, outgoing, text FROM archive
             WHERE {FILTER} AND {bound} ORDER BY id {order} LIMIT $8"
        ),
        &[
            &portal,
            &username,
            &kind,
            &key,
            &query.start,
            &query.end,
            &from,
            &limit,
        ],
    )
    .await
    .map_err(backend)?;
    let complete = found.len() <= max;
    let mut messages = Vec::with_capacity(found.len().min(max));
    for row in found.iter().take(max) {
        let kind: String = get(row, 2)?;
        let key: String = get(row, 3)?;
        if let Some(with) = contact(&kind, &key) {
            messages.push(ArchivedMessage::new(
                get(row, 0)?,
                get(row, 1)?,
                with,
                get(row, 4)?,
                &get::<String>(row, 5)?,
            ));
        }
    }
    if backwards {
        messages.reverse();
    }
    Ok(ArchivePage::new(
        messages,
        complete,
        usize::try_from(count).unwrap_or(0),
    ))
}

pub(crate) async fn prune_archive(
    store: &PgStore,
    portal: &str,
    before: DateTime<Utc>,
) -> StoreResult<u64> {
    let portal = portal.to_ascii_lowercase();
    execute(
        &store.client().await?,
        "DELETE FROM archive WHERE portal = $1 AND at < $2",
        &[&portal, &before],
    )
    .await
    .map_err(backend)
}
