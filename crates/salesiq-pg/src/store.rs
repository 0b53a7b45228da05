//! [`PgStore`]: the pool, connecting, and the [`Store`] methods, each
//! handed to the module of its concern.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use salesiq_session::{
    ArchivePage, ArchiveQuery, ArchivedMessage, Author, BoardPost, BoxFuture, CannedAnswer, Chat,
    ChatEvent, ChatId, ChatLine, ChatState, Credentials, Department, DepartmentId, LiveChat,
    NewOperator, Note, OfflineMessage, Operator, OperatorId, OperatorRef, Photo, Portal, Store,
    StoreResult, Visitor, VisitorDetails, VisitorId,
};

use crate::db::backend;
use crate::{accounts, archive, canned, chats, live, migrate};

/// How long [`PgStore::connect`] waits for a connection to be made, and
/// a query for a free connection of the pool.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections [`PgStore::connect`]'s pool holds at most.
pub const POOL_SIZE: usize = 16;

/// The [`Store`] on PostgreSQL: every method a few statements on a
/// connection of the pool, natively async.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .finish()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`,
    /// or libpq's `key=value` form) without TLS, with a pool of at most
    /// [`POOL_SIZE`] connections and [`CONNECT_TIMEOUT`], and migrates it.
    ///
    /// For TLS, another pool size or other timeouts, build the pool
    /// yourself and pass it to [`PgStore::from_pool`].
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(backend)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(backend)?;
        Self::from_pool(pool).await
    }

    /// A store on connections of `pool`, after migrating the database.
    pub async fn from_pool(pool: Pool) -> StoreResult<Self> {
        let mut client = pool.get().await.map_err(backend)?;
        migrate::migrate(&mut client).await?;
        drop(client);
        Ok(Self { pool })
    }

    /// The pool, to share it or to close it ([`Pool::close`]).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection of the pool.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(backend)
    }
}

impl Store for PgStore {
    fn put_portal<'a>(&'a self, portal: &'a Portal) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(accounts::put_portal(self, portal))
    }
    fn portal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<Portal>>> {
        Box::pin(accounts::portal(self, name))
    }
    fn add_department<'a>(
        &'a self,
        portal: &'a str,
        name: &'a str,
        convert_to_ticket: bool,
    ) -> BoxFuture<'a, StoreResult<Department>> {
        Box::pin(accounts::add_department(
            self,
            portal,
            name,
            convert_to_ticket,
        ))
    }
    fn departments<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Department>>> {
        Box::pin(accounts::departments(self, portal))
    }
    fn set_hours<'a>(
        &'a self,
        department: DepartmentId,
        hours: Option<&'a str>,
        timezone: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(accounts::set_hours(self, department, hours, timezone))
    }
    fn add_left_message<'a>(
        &'a self,
        message: &'a salesiq_session::LeftMessage,
    ) -> BoxFuture<'a, StoreResult<salesiq_session::LeftMessageId>> {
        Box::pin(accounts::add_left_message(self, message))
    }
    fn left_messages<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<salesiq_session::LeftMessage>>> {
        Box::pin(accounts::left_messages(self, portal, limit))
    }
    fn set_routing(
        &self,
        department: DepartmentId,
        routing: salesiq_session::Routing,
        offer_timeout_secs: u32,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(accounts::set_routing(
            self,
            department,
            routing,
            offer_timeout_secs,
        ))
    }
    fn assign_department(
        &self,
        operator: OperatorId,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(accounts::assign_department(self, operator, department))
    }
    fn department_members(
        &self,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<Vec<Operator>>> {
        Box::pin(accounts::department_members(self, department))
    }
    fn add_operator<'a>(
        &'a self,
        operator: &'a NewOperator,
    ) -> BoxFuture<'a, StoreResult<Operator>> {
        Box::pin(accounts::add_operator(self, operator))
    }
    fn operator_by_email<'a>(
        &'a self,
        portal: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        Box::pin(accounts::operator_by_email(self, portal, email))
    }
    fn operator_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        Box::pin(accounts::operator_by_username(self, username))
    }
    fn operators<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Operator>>> {
        Box::pin(accounts::operators(self, portal))
    }
    fn username_available<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(accounts::username_available(self, username))
    }
    fn claim_username<'a>(
        &'a self,
        operator: OperatorId,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Operator>> {
        Box::pin(accounts::claim_username(self, operator, username))
    }
    fn set_max_chats(
        &self,
        operator: OperatorId,
        max: Option<u32>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(accounts::set_max_chats(self, operator, max))
    }
    fn set_photo<'a>(
        &'a self,
        operator: OperatorId,
        photo: Option<&'a Photo>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(accounts::set_photo(self, operator, photo))
    }
    fn set_credentials<'a>(
        &'a self,
        operator: OperatorId,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(accounts::set_credentials(self, operator, credentials))
    }
    fn credentials(&self, operator: OperatorId) -> BoxFuture<'_, StoreResult<Option<Credentials>>> {
        Box::pin(accounts::credentials(self, operator))
    }

    fn add_visitor<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
    ) -> BoxFuture<'a, StoreResult<Visitor>> {
        Box::pin(chats::add_visitor(self, portal, details))
    }
    fn visitor<'a>(
        &'a self,
        portal: &'a str,
        id: VisitorId,
    ) -> BoxFuture<'a, StoreResult<Option<Visitor>>> {
        Box::pin(chats::visitor(self, portal, id))
    }
    fn set_current_page<'a>(
        &'a self,
        id: VisitorId,
        page: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::set_current_page(self, id, page))
    }
    fn add_chat<'a>(
        &'a self,
        portal: &'a str,
        visitor: VisitorId,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<Chat>> {
        Box::pin(chats::add_chat(self, portal, visitor, department, question))
    }
    fn open_chat<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<(Visitor, Chat)>> {
        Box::pin(chats::open_chat(
            self, portal, details, department, question,
        ))
    }
    fn chat<'a>(&'a self, portal: &'a str, id: ChatId) -> BoxFuture<'a, StoreResult<Option<Chat>>> {
        Box::pin(chats::chat(self, portal, id))
    }
    fn rate_chat<'a>(
        &'a self,
        chat: ChatId,
        rating: &'a salesiq_session::Rating,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::rate_chat(self, chat, rating))
    }
    fn unfinished_chats(&self) -> BoxFuture<'_, StoreResult<Vec<ChatId>>> {
        Box::pin(chats::unfinished_chats(self))
    }
    fn set_chat_state(&self, id: ChatId, state: ChatState) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(chats::set_chat_state(self, id, state))
    }
    fn add_line<'a>(
        &'a self,
        chat: ChatId,
        author: &'a Author,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::add_line(self, chat, author, text))
    }
    fn transcript(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        Box::pin(chats::transcript(self, chat))
    }
    fn history(
        &self,
        visitor: VisitorId,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        Box::pin(chats::history(self, visitor, limit))
    }

    fn save_live_chat<'a>(&'a self, chat: &'a LiveChat) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(live::save_live_chat(self, chat))
    }
    fn live_chats(&self) -> BoxFuture<'_, StoreResult<Vec<LiveChat>>> {
        Box::pin(live::live_chats(self))
    }
    fn live_chat<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<LiveChat>>> {
        Box::pin(live::live_chat(self, token_hash))
    }
    fn claim_live_chat(
        &self,
        chat: ChatId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        let (from, to) = (from.map(str::to_owned), to.map(str::to_owned));
        Box::pin(
            async move { live::claim_live_chat(self, chat, from.as_deref(), to.as_deref()).await },
        )
    }
    fn drop_live_chat(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(live::drop_live_chat(self, chat))
    }
    fn add_chat_event<'a>(
        &'a self,
        chat: ChatId,
        event: &'a ChatEvent,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(live::add_chat_event(self, chat, event))
    }
    fn chat_events(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatEvent>>> {
        Box::pin(live::chat_events(self, chat))
    }

    fn add_note<'a>(
        &'a self,
        visitor: VisitorId,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::add_note(self, visitor, author, text))
    }
    fn notes(&self, visitor: VisitorId) -> BoxFuture<'_, StoreResult<Vec<Note>>> {
        Box::pin(chats::notes(self, visitor))
    }
    fn block_ip<'a>(
        &'a self,
        portal: &'a str,
        ip: &'a str,
        reason: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::block_ip(self, portal, ip, reason, by))
    }
    fn is_blocked<'a>(&'a self, portal: &'a str, ip: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(chats::is_blocked(self, portal, ip))
    }
    fn post<'a>(
        &'a self,
        portal: &'a str,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::post(self, portal, author, text))
    }
    fn posts<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<BoardPost>>> {
        Box::pin(chats::posts(self, portal, limit))
    }
    fn link_ticket<'a>(
        &'a self,
        chat: ChatId,
        ticket_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(chats::link_ticket(self, chat, ticket_id))
    }
    fn linked_ticket(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Option<String>>> {
        Box::pin(chats::linked_ticket(self, chat))
    }

    fn put_canned<'a>(&'a self, answer: &'a CannedAnswer) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(canned::put_canned(self, answer))
    }
    fn canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
    ) -> BoxFuture<'a, StoreResult<Vec<CannedAnswer>>> {
        Box::pin(canned::canned(self, portal, department))
    }
    fn delete_canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(canned::delete_canned(self, portal, department, key))
    }

    fn add_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
        message: &'a OfflineMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(live::add_offline(self, to, message))
    }
    fn take_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
    ) -> BoxFuture<'a, StoreResult<Vec<OfflineMessage>>> {
        Box::pin(live::take_offline(self, to))
    }

    fn archive<'a>(
        &'a self,
        owner: &'a OperatorRef,
        message: &'a ArchivedMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(archive::archive(self, owner, message))
    }
    fn archive_all<'a>(
        &'a self,
        messages: &'a [(OperatorRef, ArchivedMessage)],
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(archive::archive_all(self, messages))
    }
    fn archived<'a>(
        &'a self,
        owner: &'a OperatorRef,
        query: &'a ArchiveQuery,
    ) -> BoxFuture<'a, StoreResult<ArchivePage>> {
        Box::pin(archive::archived(self, owner, query))
    }
    fn prune_archive<'a>(
        &'a self,
        portal: &'a str,
        before: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(archive::prune_archive(self, portal, before))
    }
}
