//! What a restart needs: live chats and their events, and the messages
//! kept for operators who were offline.

use salesiq_session::{
    ChatEvent, ChatId, LiveChat, MAX_CHAT_EVENTS, MAX_OFFLINE, OfflineMessage, OperatorRef,
    StoreResult,
};

use crate::PgStore;
use crate::db::{backend, contact, contact_key, event, event_columns, execute, get, row, rows};

pub(crate) async fn save_live_chat(store: &PgStore, chat: &LiveChat) -> StoreResult<()> {
    let operator = chat.operator.as_ref().map(OperatorRef::username);
    let guests: Vec<&str> = chat.guests.iter().map(OperatorRef::username).collect();
    let portal = chat.portal.to_ascii_lowercase();
    let reserved = i64::try_from(chat.seq_reserved).unwrap_or(i64::MAX);
    // An update leaves the owner: it moves by claim_live_chat only.
    execute(
        &store.client().await?,
        "INSERT INTO live_chats (chat, portal, token_hash, operator, guests, seq_reserved, owner)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (chat) DO UPDATE SET portal = $2, token_hash = $3, operator = $4, guests = $5,
         seq_reserved = $6",
        &[
            &chat.chat.0,
            &portal,
            &chat.token_hash,
            &operator,
            &guests,
            &reserved,
            &chat.owner,
        ],
    )
    .await
    .map(drop)
    .map_err(backend)
}

const LIVE_CHAT: &str =
    "SELECT chat, portal, token_hash, operator, guests, seq_reserved, owner FROM live_chats";

fn live_chat_row(row: &tokio_postgres::Row) -> StoreResult<LiveChat> {
    let portal: String = get(row, 1)?;
    let member = |username: &str| OperatorRef::new(&portal, username);
    let operator: Option<String> = get(row, 3)?;
    let guests: Vec<String> = get(row, 4)?;
    let hash: String = get(row, 2)?;
    let reserved: i64 = get(row, 5)?;
    let owner: Option<String> = get(row, 6)?;
    Ok(LiveChat::new(ChatId(get(row, 0)?), &portal, &hash)
        .with_members(
            operator.as_deref().map(member),
            guests.iter().map(|g| member(g)).collect(),
        )
        .with_seq_reserved(u64::try_from(reserved).unwrap_or(0))
        .with_owner(owner.as_deref()))
}

pub(crate) async fn live_chats(store: &PgStore) -> StoreResult<Vec<LiveChat>> {
    let found = rows(
        &store.client().await?,
        &format!("{LIVE_CHAT} ORDER BY chat"),
        &[],
    )
    .await
    .map_err(backend)?;
    found.iter().map(live_chat_row).collect()
}

pub(crate) async fn live_chat(store: &PgStore, token_hash: &str) -> StoreResult<Option<LiveChat>> {
    let found = row(
        &store.client().await?,
        &format!("{LIVE_CHAT} WHERE token_hash = $1 ORDER BY chat LIMIT 1"),
        &[&token_hash],
    )
    .await
    .map_err(backend)?;
    found.as_ref().map(live_chat_row).transpose()
}

/// One statement: PostgreSQL's row lock makes racing claims from one
/// owner wait for each other, and the later one, rechecking the row,
/// finds the owner changed and updates nothing.
pub(crate) async fn claim_live_chat(
    store: &PgStore,
    chat: ChatId,
    from: Option<&str>,
    to: Option<&str>,
) -> StoreResult<bool> {
    let changed = execute(
        &store.client().await?,
        "UPDATE live_chats SET owner = $3 WHERE chat = $1 AND owner IS NOT DISTINCT FROM $2",
        &[&chat.0, &from, &to],
    )
    .await
    .map_err(backend)?;
    Ok(changed == 1)
}

pub(crate) async fn drop_live_chat(store: &PgStore, chat: ChatId) -> StoreResult<()> {
    let mut client = store.client().await?;
    let transaction = client.transaction().await.map_err(backend)?;
    execute(
        &transaction,
        "DELETE FROM chat_events WHERE chat = $1",
        &[&chat.0],
    )
    .await
    .map_err(backend)?;
    execute(
        &transaction,
        "DELETE FROM live_chats WHERE chat = $1",
        &[&chat.0],
    )
    .await
    .map_err(backend)?;
    transaction.commit().await.map_err(backend)
}

pub(crate) async fn add_chat_event(
    store: &PgStore,
    chat: ChatId,
    added: &ChatEvent,
) -> StoreResult<()> {
    let (kind, a, b) = event_columns(&added.event);
    let seq = i64::try_from(added.seq).unwrap_or(i64::MAX);
    let max = i64::try_from(MAX_CHAT_EVENTS).unwrap_or(i64::MAX);
    let mut client = store.client().await?;
    let transaction = client.transaction().await.map_err(backend)?;
    execute(
        &transaction,
        "INSERT INTO chat_events (chat, seq, kind, a, b) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (chat, seq) DO UPDATE SET kind = $3, a = $4, b = $5",
        &[&chat.0, &seq, &kind, &a, &b],
    )
    .await
    .map_err(backend)?;
    // The oldest beyond MAX_CHAT_EVENTS go (numbers count by one, so this
    // is one range of the primary key).
    execute(
        &transaction,
        "DELETE FROM chat_events WHERE chat = $1 AND seq <= $2::bigint - $3::bigint",
        &[&chat.0, &seq, &max],
    )
    .await
    .map_err(backend)?;
    transaction.commit().await.map_err(backend)
}

pub(crate) async fn chat_events(store: &PgStore, chat: ChatId) -> StoreResult<Vec<ChatEvent>> {
    let found = rows(
        &store.client().await?,
        "SELECT seq, kind, a, b FROM chat_events WHERE chat = $1 ORDER BY seq",
        &[&chat.0],
    )
    .await
    .map_err(backend)?;
    let mut events = Vec::with_capacity(found.len());
    for row in &found {
        let seq: i64 = get(row, 0)?;
        let kind: String = get(row, 1)?;
        // A row this release cannot read (a newer kind) is skipped, as the
        // SQLite store does.
        if let (Some(e), Ok(seq)) = (event(&kind, get(row, 2)?, get(row, 3)?), u64::try_from(seq)) {
            events.push(ChatEvent::new(seq, e));
        }
    }
    Ok(events)
}

/// The advisory lock of one operator's offline messages, so that two
/// `add_offline` at once cannot both miss the other's row and keep one
/// over [`MAX_OFFLINE`].
const OFFLINE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('salesiq offline ' || $1::text || '|' || $2::text, 0))";

pub(crate) async fn add_offline(
    store: &PgStore,
    to: &OperatorRef,
    message: &OfflineMessage,
) -> StoreResult<()> {
    let (portal, username) = (to.portal(), to.username());
    let (kind, key) = contact_key(&message.from);
    let max = i64::try_from(MAX_OFFLINE).unwrap_or(i64::MAX);
    let mut client = store.client().await?;
    let transaction = client.transaction().await.map_err(backend)?;
    execute(&transaction, OFFLINE_LOCK, &[&portal, &username])
        .await
        .map_err(backend)?;
    execute(
        &transaction,
        "INSERT INTO offline (portal, username, at, from_kind, from_key, text) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&portal, &username, &message.at, &kind, &key, &message.text],
    )
    .await
    .map_err(backend)?;
    // The oldest beyond MAX_OFFLINE go.
    execute(
        &transaction,
        "DELETE FROM offline WHERE portal = $1 AND username = $2 AND id <= (
             SELECT id FROM offline WHERE portal = $1 AND username = $2
             ORDER BY id DESC OFFSET $3 LIMIT 1)",
        &[&portal, &username, &max],
    )
    .await
    .map_err(backend)?;
    transaction.commit().await.map_err(backend)
}

pub(crate) async fn take_offline(
    store: &PgStore,
    to: &OperatorRef,
) -> StoreResult<Vec<OfflineMessage>> {
    // One statement, so one transaction: of two takes at once, the second
    // waits on the rows the first deletes and finds them gone.
    let taken = rows(
        &store.client().await?,
        "WITH taken AS (
             DELETE FROM offline WHERE portal = $1 AND username = $2
             RETURNING id, at, from_kind, from_key, text
         ) SELECT at, from_kind, from_key, text FROM taken ORDER BY id",
        &[&to.portal(), &to.username()],
    )
    .await
    .map_err(backend)?;
    let mut messages = Vec::with_capacity(taken.len());
    for row in &taken {
        let kind: String = get(row, 1)?;
        let key: String = get(row, 2)?;
        if let Some(from) = contact(&kind, &key) {
            messages.push(OfflineMessage::new(
                get(row, 0)?,
                from,
                &get::<String>(row, 3)?,
            ));
        }
    }
    Ok(messages)
}
