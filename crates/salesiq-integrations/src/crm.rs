//! The CRM: who a visitor is, found by e-mail address.

use std::fmt;

use crate::error::ConnectorError;
use crate::future::BoxFuture;

/// Where in the CRM a record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrmModule {
    /// A prospect.
    Lead,
    /// A customer.
    Contact,
}

/// A visitor's CRM record, as `#crm info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CrmRecord {
    /// Lead or contact; `None` only in a default value.
    pub module: Option<CrmModule>,
    /// The CRM's id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Company or account name.
    pub company: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Lead status, or contact type.
    pub status: Option<String>,
    /// The record's owner in the CRM.
    pub owner: Option<String>,
}

impl CrmRecord {
    /// A record of `module` with the required fields.
    pub fn new(module: CrmModule, id: &str, name: &str, email: &str) -> Self {
        Self {
            module: Some(module),
            id: id.to_owned(),
            name: name.to_owned(),
            email: email.to_owned(),
            ..Self::default()
        }
    }
}

/// Looks visitors up in a CRM; supplied by the embedder as
/// `Arc<dyn CrmConnector>`.
pub trait CrmConnector: Send + Sync + fmt::Debug {
    /// The record with this e-mail address: leads first, then contacts;
    /// `None` when there is none.
    fn find_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<CrmRecord>, ConnectorError>>;
}

/// CRM records in memory: for tests and demos.
#[derive(Debug, Clone, Default)]
pub struct MemoryCrm {
    records: Vec<CrmRecord>,
}

impl MemoryCrm {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record.
    pub fn with_record(mut self, record: CrmRecord) -> Self {
        self.records.push(record);
        self
    }
}

impl CrmConnector for MemoryCrm {
    fn find_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<CrmRecord>, ConnectorError>> {
        Box::pin(async move {
            let matching = |module| {
                self.records
                    .iter()
                    .find(|r| r.module == Some(module) && r.email.eq_ignore_ascii_case(email))
            };
            Ok(matching(CrmModule::Lead)
                .or_else(|| matching(CrmModule::Contact))
                .cloned())
        })
    }
}
