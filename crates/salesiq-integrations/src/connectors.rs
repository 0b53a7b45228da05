//! Connectors per portal: each tenant's CRM and helpdesk are its own
//! vendor accounts, never another portal's.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::crm::{CrmConnector, MemoryCrm};
use crate::helpdesk::{HelpdeskConnector, MemoryHelpdesk};

/// Which CRM and helpdesk answer for a portal. The gateway asks it for
/// every `#crm` and `#support` command, with the chat's portal, so that
/// one company's operators never query another company's vendor account.
pub trait Connectors: Send + Sync + fmt::Debug {
    /// The portal's CRM.
    fn crm(&self, portal: &str) -> Arc<dyn CrmConnector>;
    /// The portal's helpdesk.
    fn helpdesk(&self, portal: &str) -> Arc<dyn HelpdeskConnector>;
}

/// A CRM and a helpdesk for each portal that has its own, and a default
/// pair for the others (empty in-memory connectors unless given).
///
/// ```
/// use std::sync::Arc;
/// use salesiq_integrations::{Connectors, CrmModule, CrmRecord, MemoryCrm, MemoryHelpdesk, PortalConnectors};
///
/// let acme_crm = MemoryCrm::new()
///     .with_record(CrmRecord::new(CrmModule::Lead, "1", "Ann Lee", "ann@example.com"));
/// let connectors = PortalConnectors::default()
///     .with_portal("ACME", Arc::new(acme_crm), Arc::new(MemoryHelpdesk::new()));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let found = connectors.crm("acme").find_by_email("ann@example.com").await.unwrap();
/// assert!(found.is_some());
/// // Another portal asking about the same address finds nothing.
/// let other = connectors.crm("demo").find_by_email("ann@example.com").await.unwrap();
/// assert!(other.is_none());
/// # });
/// ```
#[derive(Clone)]
pub struct PortalConnectors {
    default: Pair,
    portals: HashMap<String, Pair>,
}

type Pair = (Arc<dyn CrmConnector>, Arc<dyn HelpdeskConnector>);

impl Default for PortalConnectors {
    /// Empty in-memory connectors for every portal.
    fn default() -> Self {
        Self::new(Arc::new(MemoryCrm::new()), Arc::new(MemoryHelpdesk::new()))
    }
}

impl PortalConnectors {
    /// `crm` and `helpdesk` for every portal that has none of its own.
    pub fn new(crm: Arc<dyn CrmConnector>, helpdesk: Arc<dyn HelpdeskConnector>) -> Self {
        Self {
            default: (crm, helpdesk),
            portals: HashMap::new(),
        }
    }

    /// `portal`'s own CRM and helpdesk (the name compares case-insensitively).
    pub fn with_portal(
        mut self,
        portal: &str,
        crm: Arc<dyn CrmConnector>,
        helpdesk: Arc<dyn HelpdeskConnector>,
    ) -> Self {
        self.portals
            .insert(portal.to_ascii_lowercase(), (crm, helpdesk));
        self
    }

    fn pair(&self, portal: &str) -> &Pair {
        self.portals
            .get(&portal.to_ascii_lowercase())
            .unwrap_or(&self.default)
    }
}

impl Connectors for PortalConnectors {
    fn crm(&self, portal: &str) -> Arc<dyn CrmConnector> {
        self.pair(portal).0.clone()
    }

    fn helpdesk(&self, portal: &str) -> Arc<dyn HelpdeskConnector> {
        self.pair(portal).1.clone()
    }
}

impl fmt::Debug for PortalConnectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut portals: Vec<&String> = self.portals.keys().collect();
        portals.sort();
        f.debug_struct("PortalConnectors")
            .field("default", &self.default)
            .field("portals", &portals)
            .finish()
    }
}
