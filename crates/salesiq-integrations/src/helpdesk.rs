//! The helpdesk: a visitor's contact record and tickets, and turning a
//! chat into a ticket.

use std::fmt;
use std::sync::Mutex;

use salesiq_commands::{
    TicketClassification, TicketFields, TicketPriority, TicketState, TicketStatus,
};

use crate::error::ConnectorError;
use crate::future::BoxFuture;

/// A contact in the helpdesk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HelpdeskContact {
    /// The helpdesk's id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// The customer account (company) it belongs to.
    pub account: Option<String>,
}

impl HelpdeskContact {
    /// A contact with the required fields.
    pub fn new(id: &str, name: &str, email: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            email: email.to_owned(),
            ..Self::default()
        }
    }
}

/// A helpdesk ticket, as the `#support` commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Ticket {
    /// The helpdesk's internal id (what `associate` and updates use).
    pub id: String,
    /// The number people quote, e.g. `1042`.
    pub number: String,
    /// Subject line.
    pub subject: String,
    /// Status as the helpdesk names it (`Open`, `On Hold`, `Closed`...).
    pub status: String,
    /// Priority as the helpdesk names it.
    pub priority: Option<String>,
    /// Classification as the helpdesk names it.
    pub classification: Option<String>,
    /// The contact it belongs to.
    pub contact_id: Option<String>,
    /// The contact's e-mail address.
    pub email: Option<String>,
    /// When it was created, as the helpdesk says (ISO 8601).
    pub created: Option<String>,
}

impl Ticket {
    /// A ticket with the required fields.
    pub fn new(id: &str, number: &str, subject: &str, status: &str) -> Self {
        Self {
            id: id.to_owned(),
            number: number.to_owned(),
            subject: subject.to_owned(),
            status: status.to_owned(),
            ..Self::default()
        }
    }
}

/// How `#support searchreq` looks for tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketQuery<'a> {
    /// By the contact's e-mail address.
    Email(&'a str),
    /// By ticket number.
    TicketNumber(&'a str),
    /// By the contact's name.
    ContactName(&'a str),
}

/// A ticket to create from a chat (`#support conasreq`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTicket {
    /// Subject line: the visitor's question.
    pub subject: String,
    /// The chat transcript.
    pub description: String,
    /// The visitor's e-mail address.
    pub email: String,
    /// The visitor's name.
    pub name: String,
    /// Priority, status and classification from the command.
    pub fields: TicketFields,
    /// The helpdesk department, if the embedder maps chat departments.
    pub department_id: Option<String>,
}

impl NewTicket {
    /// A ticket with the required fields and no department.
    pub fn new(
        subject: &str,
        description: &str,
        email: &str,
        name: &str,
        fields: TicketFields,
    ) -> Self {
        Self {
            subject: subject.to_owned(),
            description: description.to_owned(),
            email: email.to_owned(),
            name: name.to_owned(),
            fields,
            department_id: None,
        }
    }
}

/// The helpdesk's words for the `conasreq` digits.
pub fn priority_name(priority: TicketPriority) -> Option<&'static str> {
    match priority {
        TicketPriority::Low => Some("Low"),
        TicketPriority::Medium => Some("Medium"),
        TicketPriority::High => Some("High"),
        _ => None,
    }
}

/// The helpdesk's words for the `conasreq` status digit.
pub fn status_name(status: TicketStatus) -> &'static str {
    match status {
        TicketStatus::OnHold => "On Hold",
        TicketStatus::Escalated => "Escalated",
        TicketStatus::Closed => "Closed",
        _ => "Open",
    }
}

/// The helpdesk's words for the `conasreq` classification digit.
pub fn classification_name(classification: TicketClassification) -> Option<&'static str> {
    match classification {
        TicketClassification::Question => Some("Question"),
        TicketClassification::Problem => Some("Problem"),
        TicketClassification::Feature => Some("Feature"),
        TicketClassification::Others => Some("Others"),
        _ => None,
    }
}

/// The helpdesk's word for `setreqstatus open|close`.
pub fn state_name(state: TicketState) -> &'static str {
    match state {
        TicketState::Close => "Closed",
        _ => "Open",
    }
}

/// A helpdesk; supplied by the embedder as `Arc<dyn HelpdeskConnector>`.
pub trait HelpdeskConnector: Send + Sync + fmt::Debug {
    /// The contact with this e-mail address, if any.
    fn find_contact<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<HelpdeskContact>, ConnectorError>>;

    /// A contact's tickets, newest first.
    fn contact_tickets<'a>(
        &'a self,
        contact_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>>;

    /// One ticket by its id, if it exists.
    fn ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Ticket>, ConnectorError>>;

    /// Tickets matching a query.
    fn search_tickets<'a>(
        &'a self,
        query: TicketQuery<'a>,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>>;

    /// Creates a ticket.
    fn create_ticket<'a>(
        &'a self,
        ticket: &'a NewTicket,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>>;

    /// Reopens or closes a ticket; [`ConnectorError::NotFound`] if there is
    /// no such ticket.
    fn set_status<'a>(
        &'a self,
        id: &'a str,
        state: TicketState,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>>;
}

/// A helpdesk in memory: for tests and demos.
#[derive(Debug, Default)]
pub struct MemoryHelpdesk {
    contacts: Vec<HelpdeskContact>,
    tickets: Mutex<Vec<Ticket>>,
}

impl MemoryHelpdesk {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a contact.
    pub fn with_contact(mut self, contact: HelpdeskContact) -> Self {
        self.contacts.push(contact);
        self
    }

    /// Adds a ticket.
    pub fn with_ticket(self, ticket: Ticket) -> Self {
        self.lock().push(ticket);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ticket>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HelpdeskConnector for MemoryHelpdesk {
    fn find_contact<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<HelpdeskContact>, ConnectorError>> {
        Box::pin(async move {
            Ok(self
                .contacts
                .iter()
                .find(|c| c.email.eq_ignore_ascii_case(email))
                .cloned())
        })
    }

    fn contact_tickets<'a>(
        &'a self,
        contact_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>> {
        Box::pin(async move {
            let tickets = self.lock();
            Ok(tickets
                .iter()
                .rev()
                .filter(|t| t.contact_id.as_deref() == Some(contact_id))
                .cloned()
                .collect())
        })
    }

    fn ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Ticket>, ConnectorError>> {
        Box::pin(async move { Ok(self.lock().iter().find(|t| t.id == id).cloned()) })
    }

    fn search_tickets<'a>(
        &'a self,
        query: TicketQuery<'a>,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>> {
        Box::pin(async move {
            let contact_of = |t: &Ticket| {
                self.contacts
                    .iter()
                    .find(|c| Some(&c.id) == t.contact_id.as_ref())
            };
            let hit = |t: &Ticket| match query {
                TicketQuery::Email(email) => t
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email)),
                TicketQuery::TicketNumber(number) => t.number == number,
                TicketQuery::ContactName(name) => contact_of(t)
                    .is_some_and(|c| c.name.to_lowercase().contains(&name.to_lowercase())),
            };
            Ok(self.lock().iter().filter(|t| hit(t)).cloned().collect())
        })
    }

    fn create_ticket<'a>(
        &'a self,
        new: &'a NewTicket,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>> {
        Box::pin(async move {
            let mut tickets = self.lock();
            // The next number after the highest, as helpdesks count.
            let highest = tickets
                .iter()
                .filter_map(|t| t.number.parse::<u64>().ok())
                .max();
            let number = highest.map_or(1001, |n| n + 1).to_string();
            let contact = self
                .contacts
                .iter()
                .find(|c| c.email.eq_ignore_ascii_case(&new.email));
            let ticket = Ticket {
                id: format!("memory-{number}"),
                number,
                subject: new.subject.clone(),
                status: status_name(new.fields.status).to_owned(),
                priority: priority_name(new.fields.priority).map(str::to_owned),
                classification: classification_name(new.fields.classification).map(str::to_owned),
                contact_id: contact.map(|c| c.id.clone()),
                email: Some(new.email.clone()),
                created: None,
            };
            tickets.push(ticket.clone());
            Ok(ticket)
        })
    }

    fn set_status<'a>(
        &'a self,
        id: &'a str,
        state: TicketState,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>> {
        Box::pin(async move {
            let mut tickets = self.lock();
            let ticket = tickets
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or(ConnectorError::NotFound)?;
            state_name(state).clone_into(&mut ticket.status);
            Ok(ticket.clone())
        })
    }
}
