//! Demo records for the in-memory connectors: what the example server and
//! the tests answer `#crm` and `#support` with.

use crate::crm::{CrmModule, CrmRecord, MemoryCrm};
use crate::helpdesk::{HelpdeskContact, MemoryHelpdesk, Ticket};

/// The demo visitor's e-mail address.
pub const DEMO_EMAIL: &str = "ann@example.com";

/// A CRM and a helpdesk that know the demo visitor, Ann Lee
/// ([`DEMO_EMAIL`]): a lead at "Lee & Co", a helpdesk contact, and one
/// closed ticket, number 1000, "Old invoice question".
///
/// ```
/// use salesiq_integrations::{CrmConnector, demo};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (crm, _desk) = demo();
/// let ann = crm.find_by_email("ann@example.com").await.unwrap().unwrap();
/// assert_eq!(ann.company.as_deref(), Some("Lee & Co"));
/// # });
/// ```
pub fn demo() -> (MemoryCrm, MemoryHelpdesk) {
    let mut lead = CrmRecord::new(CrmModule::Lead, "lead-1", "Ann Lee", DEMO_EMAIL);
    lead.company = Some("Lee & Co".into());
    let mut ticket = Ticket::new("ticket-1", "1000", "Old invoice question", "Closed");
    ticket.contact_id = Some("contact-1".into());
    ticket.email = Some(DEMO_EMAIL.into());
    let desk = MemoryHelpdesk::new()
        .with_contact(HelpdeskContact::new("contact-1", "Ann Lee", DEMO_EMAIL))
        .with_ticket(ticket);
    (MemoryCrm::new().with_record(lead), desk)
}
