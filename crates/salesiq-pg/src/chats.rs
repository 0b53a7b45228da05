//! Visitors, chats and their transcripts, notes, blocked addresses, the
//! message board and ticket links.

use deadpool_postgres::GenericClient;
use salesiq_session::{
    Author, BoardPost, Chat, ChatId, ChatLine, ChatState, DepartmentId, Note, StoreError,
    StoreResult, Visitor, VisitorDetails, VisitorId,
};
use tokio_postgres::Row;

use crate::PgStore;
use crate::db::{
    author, author_columns, backend, execute, get, now, row, rows, state, state_column, updated,
};

const VISITOR: &str = "SELECT id, portal, number, name, email, ip, country, browser, os, first_page, current_page FROM visitors";

fn visitor_of(row: &Row) -> StoreResult<Visitor> {
    let mut details = VisitorDetails::default();
    details.name = get(row, 3)?;
    details.email = get(row, 4)?;
    details.ip = get(row, 5)?;
    details.country = get(row, 6)?;
    details.browser = get(row, 7)?;
    details.os = get(row, 8)?;
    details.first_page = get(row, 9)?;
    details.current_page = get(row, 10)?;
    Ok(Visitor::new(
        VisitorId(get(row, 0)?),
        &get::<String>(row, 1)?,
        get(row, 2)?,
        details,
    ))
}

fn line_of(row: &Row) -> StoreResult<ChatLine> {
    let kind: String = get(row, 2)?;
    Ok(ChatLine::new(
        ChatId(get(row, 0)?),
        get(row, 1)?,
        author(&kind, get(row, 3)?),
        &get::<String>(row, 4)?,
    ))
}

/// A visitor with the portal's next number: a counter row per portal,
/// bumped under its row lock, so that visitors arriving at once on many
/// connections get distinct numbers, none skipped.
async fn insert_visitor(
    c: &impl GenericClient,
    portal: &str,
    details: &VisitorDetails,
) -> StoreResult<Visitor> {
    let counted = row(
        c,
        "INSERT INTO visitor_numbers (portal, next) VALUES ($1, 2)
         ON CONFLICT (portal) DO UPDATE SET next = visitor_numbers.next + 1 RETURNING next - 1",
        &[&portal],
    )
    .await
    .map_err(backend)?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    let number: i64 = get(&counted, 0)?;
    let d = details;
    let added = row(
        c,
        "INSERT INTO visitors (portal, number, name, email, ip, country, browser, os, first_page, current_page)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[&portal, &number, &d.name, &d.email, &d.ip, &d.country, &d.browser, &d.os, &d.first_page, &d.current_page],
    )
    .await
    .map_err(backend)?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    Ok(Visitor::new(
        VisitorId(get(&added, 0)?),
        portal,
        number,
        details.clone(),
    ))
}

async fn insert_chat(
    c: &impl GenericClient,
    portal: &str,
    visitor: VisitorId,
    department: Option<DepartmentId>,
    question: &str,
) -> StoreResult<Chat> {
    let started = now();
    let added = row(
        c,
        "INSERT INTO chats (portal, visitor, department, question, state, started)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &portal,
            &visitor.0,
            &department.map(|d| d.0),
            &question,
            &state_column(ChatState::Waiting)?,
            &started,
        ],
    )
    .await
    .map_err(backend)?
    .ok_or_else(|| StoreError::backend_message("INSERT ... RETURNING returned no row"))?;
    Ok(Chat::new(
        ChatId(get(&added, 0)?),
        portal,
        visitor,
        department,
        question,
    )
    .started_at(started))
}

async fn insert_line(
    c: &impl GenericClient,
    chat: ChatId,
    author: &Author,
    text: &str,
) -> StoreResult<()> {
    let (kind, name) = author_columns(author);
    execute(
        c,
        "INSERT INTO chat_lines (chat, at, author_kind, author_name, text) VALUES ($1, $2, $3, $4, $5)",
        &[&chat.0, &now(), &kind, &name, &text],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn add_visitor(
    store: &PgStore,
    portal: &str,
    details: &VisitorDetails,
) -> StoreResult<Visitor> {
    let portal = portal.to_ascii_lowercase();
    let mut client = store.client().await?;
    let transaction = client.transaction().await.map_err(backend)?;
    let visitor = insert_visitor(&transaction, &portal, details).await?;
    transaction.commit().await.map_err(backend)?;
    Ok(visitor)
}

pub(crate) async fn open_chat(
    store: &PgStore,
    portal: &str,
    details: &VisitorDetails,
    department: Option<DepartmentId>,
    question: &str,
) -> StoreResult<(Visitor, Chat)> {
    let portal = portal.to_ascii_lowercase();
    let mut client = store.client().await?;
    // One transaction: a failure leaves no visitor without a chat (a
    // transaction dropped uncommitted rolls back).
    let transaction = client.transaction().await.map_err(backend)?;
    let visitor = insert_visitor(&transaction, &portal, details).await?;
    let chat = insert_chat(&transaction, &portal, visitor.id, department, question).await?;
    insert_line(&transaction, chat.id, &Author::Visitor, question).await?;
    transaction.commit().await.map_err(backend)?;
    Ok((visitor, chat))
}

pub(crate) async fn visitor(
    store: &PgStore,
    portal: &str,
    id: VisitorId,
) -> StoreResult<Option<Visitor>> {
    let portal = portal.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        &format!("{VISITOR} WHERE id = $1 AND portal = $2"),
        &[&id.0, &portal],
    )
    .await
    .map_err(backend)?;
    found.as_ref().map(visitor_of).transpose()
}

pub(crate) async fn set_current_page(
    store: &PgStore,
    id: VisitorId,
    page: &str,
) -> StoreResult<()> {
    execute(
        &store.client().await?,
        "UPDATE visitors SET current_page = $1 WHERE id = $2",
        &[&page, &id.0],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn add_chat(
    store: &PgStore,
    portal: &str,
    visitor: VisitorId,
    department: Option<DepartmentId>,
    question: &str,
) -> StoreResult<Chat> {
    let portal = portal.to_ascii_lowercase();
    insert_chat(
        &store.client().await?,
        &portal,
        visitor,
        department,
        question,
    )
    .await
}

pub(crate) async fn chat(store: &PgStore, portal: &str, id: ChatId) -> StoreResult<Option<Chat>> {
    let portal = portal.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        "SELECT id, portal, visitor, department, question, state, started, rating, rating_comment
         FROM chats WHERE id = $1 AND portal = $2",
        &[&id.0, &portal],
    )
    .await
    .map_err(backend)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let department: Option<i64> = get(&found, 3)?;
    let chat = Chat::new(
        ChatId(get(&found, 0)?),
        &get::<String>(&found, 1)?,
        VisitorId(get(&found, 2)?),
        department.map(DepartmentId),
        &get::<String>(&found, 4)?,
    )
    .in_state(state(&get::<String>(&found, 5)?))
    .started_at(get(&found, 6)?);
    let score: Option<i16> = get(&found, 7)?;
    let comment: Option<String> = get(&found, 8)?;
    let rating = score.and_then(|s| {
        salesiq_session::Rating::new(
            u8::try_from(s).ok()?,
            comment.as_deref().unwrap_or_default(),
        )
    });
    Ok(Some(chat.with_rating(rating)))
}

pub(crate) async fn rate_chat(
    store: &PgStore,
    chat: ChatId,
    rating: &salesiq_session::Rating,
) -> StoreResult<()> {
    let changed = execute(
        &store.client().await?,
        "UPDATE chats SET rating = $1, rating_comment = $2 WHERE id = $3",
        &[&i16::from(rating.score), &rating.comment, &chat.0],
    )
    .await
    .map_err(backend)?;
    updated(changed, || format!("chat {chat}"))
}

pub(crate) async fn unfinished_chats(store: &PgStore) -> StoreResult<Vec<ChatId>> {
    let found = rows(
        &store.client().await?,
        "SELECT id FROM chats WHERE state <> 'ended' ORDER BY id",
        &[],
    )
    .await
    .map_err(backend)?;
    found.iter().map(|row| Ok(ChatId(get(row, 0)?))).collect()
}

pub(crate) async fn set_chat_state(store: &PgStore, id: ChatId, to: ChatState) -> StoreResult<()> {
    let to = state_column(to)?;
    execute(
        &store.client().await?,
        "UPDATE chats SET state = $1 WHERE id = $2",
        &[&to, &id.0],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn add_line(
    store: &PgStore,
    chat: ChatId,
    author: &Author,
    text: &str,
) -> StoreResult<()> {
    insert_line(&store.client().await?, chat, author, text).await
}

pub(crate) async fn transcript(store: &PgStore, chat: ChatId) -> StoreResult<Vec<ChatLine>> {
    let found = rows(
        &store.client().await?,
        "SELECT chat, at, author_kind, author_name, text FROM chat_lines WHERE chat = $1 ORDER BY id",
        &[&chat.0],
    )
    .await
    .map_err(backend)?;
    found.iter().map(line_of).collect()
}

pub(crate) async fn history(
    store: &PgStore,
    visitor: VisitorId,
    limit: usize,
) -> StoreResult<Vec<ChatLine>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let found = rows(
        &store.client().await?,
        "SELECT chat, at, author_kind, author_name, text FROM (
             SELECT l.chat, l.at, l.author_kind, l.author_name, l.text, l.id FROM chat_lines l
             JOIN chats ch ON ch.id = l.chat WHERE ch.visitor = $1 ORDER BY l.id DESC LIMIT $2
         ) latest ORDER BY id",
        &[&visitor.0, &limit],
    )
    .await
    .map_err(backend)?;
    found.iter().map(line_of).collect()
}

pub(crate) async fn add_note(
    store: &PgStore,
    visitor: VisitorId,
    author: &str,
    text: &str,
) -> StoreResult<()> {
    execute(
        &store.client().await?,
        "INSERT INTO notes (visitor, at, author, text) VALUES ($1, $2, $3, $4)",
        &[&visitor.0, &now(), &author, &text],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn notes(store: &PgStore, visitor: VisitorId) -> StoreResult<Vec<Note>> {
    let found = rows(
        &store.client().await?,
        "SELECT at, author, text FROM notes WHERE visitor = $1 ORDER BY id",
        &[&visitor.0],
    )
    .await
    .map_err(backend)?;
    found
        .iter()
        .map(|row| {
            Ok(Note::new(
                get(row, 0)?,
                &get::<String>(row, 1)?,
                &get::<String>(row, 2)?,
            ))
        })
        .collect()
}

pub(crate) async fn block_ip(
    store: &PgStore,
    portal: &str,
    ip: &str,
    reason: &str,
    by: &str,
) -> StoreResult<()> {
    let portal = portal.to_ascii_lowercase();
    execute(
        &store.client().await?,
        "INSERT INTO blocked_ips (portal, ip, reason, blocked_by, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (portal, ip) DO UPDATE SET reason = $3, blocked_by = $4, at = $5",
        &[&portal, &ip, &reason, &by, &now()],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn is_blocked(store: &PgStore, portal: &str, ip: &str) -> StoreResult<bool> {
    let portal = portal.to_ascii_lowercase();
    let found = row(
        &store.client().await?,
        "SELECT 1 FROM blocked_ips WHERE portal = $1 AND ip = $2",
        &[&portal, &ip],
    )
    .await
    .map_err(backend)?;
    Ok(found.is_some())
}

pub(crate) async fn post(
    store: &PgStore,
    portal: &str,
    author: &str,
    text: &str,
) -> StoreResult<()> {
    let portal = portal.to_ascii_lowercase();
    execute(
        &store.client().await?,
        "INSERT INTO board_posts (portal, at, author, text) VALUES ($1, $2, $3, $4)",
        &[&portal, &now(), &author, &text],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn posts(
    store: &PgStore,
    portal: &str,
    limit: usize,
) -> StoreResult<Vec<BoardPost>> {
    let portal = portal.to_ascii_lowercase();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let found = rows(
        &store.client().await?,
        "SELECT at, author, text FROM (
             SELECT id, at, author, text FROM board_posts WHERE portal = $1 ORDER BY id DESC LIMIT $2
         ) latest ORDER BY id",
        &[&portal, &limit],
    )
    .await
    .map_err(backend)?;
    found
        .iter()
        .map(|row| {
            Ok(BoardPost::new(
                get(row, 0)?,
                &get::<String>(row, 1)?,
                &get::<String>(row, 2)?,
            ))
        })
        .collect()
}

pub(crate) async fn link_ticket(store: &PgStore, chat: ChatId, ticket_id: &str) -> StoreResult<()> {
    execute(
        &store.client().await?,
        "INSERT INTO ticket_links (chat, ticket_id) VALUES ($1, $2)
         ON CONFLICT (chat) DO UPDATE SET ticket_id = $2",
        &[&chat.0, &ticket_id],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn linked_ticket(store: &PgStore, chat: ChatId) -> StoreResult<Option<String>> {
    let found = row(
        &store.client().await?,
        "SELECT ticket_id FROM ticket_links WHERE chat = $1",
        &[&chat.0],
    )
    .await
    .map_err(backend)?;
    found.as_ref().map(|row| get(row, 0)).transpose()
}
