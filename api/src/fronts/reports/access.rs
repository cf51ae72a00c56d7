//! Who calls the reports front and what they may see.
//!
//! A caller presents a bearer token from `POST /api/v1/login/` (`Authorization: Bearer ...`,
//! or `?access_token=...` on downloads, as OrderlyWeb allows), or signs the request like every
//! other front; the front's wrapper checks either before the body is read. Permissions hold
//! everywhere or on single reports; a caller without `reports.review` on a report sees only
//! its published versions.

use common::auth::api_key::ApiKey;
use common::auth::permissions::Permission;

use crate::auth::{Credential, authenticate};
use crate::error::ApiError;
use crate::request::RequestParts;
use crate::state::AppState;

/// An authenticated caller of the reports front.
#[derive(Debug, Clone)]
pub struct Access {
    /// The key (or user) calling.
    pub key: ApiKey,
}

/// The caller the route's wrapper admitted (a bearer token, also `?access_token=` when
/// `allow_query_token`, or an HTTP signature).
pub async fn caller(
    state: &AppState,
    request: &RequestParts,
    allow_query_token: bool,
) -> Result<Access, ApiError> {
    let caller = authenticate(state, request).await?;
    if caller.credential == Credential::QueryToken && !allow_query_token {
        return Err(ApiError::Unauthorized(
            "send the bearer token in the Authorization header".into(),
        ));
    }
    Ok(Access { key: caller.key })
}

impl Access {
    /// True when the caller holds `permission` on report `name`.
    pub fn may(&self, name: &str, permission: Permission) -> bool {
        self.key.may_on_report(name, permission)
    }

    /// Refuses (403) a caller without `permission` on report `name`.
    pub fn require(&self, name: &str, permission: Permission) -> Result<(), ApiError> {
        if self.may(name, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "'{}' lacks the '{}' permission on report '{name}'",
                self.key.id,
                permission.as_str()
            )))
        }
    }

    /// Refuses (403) a caller without `permission` everywhere.
    pub fn require_global(&self, permission: Permission) -> Result<(), ApiError> {
        if common::auth::permissions::grants(&self.key.permissions, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "'{}' lacks the '{}' permission",
                self.key.id,
                permission.as_str()
            )))
        }
    }

    /// True when the caller may read report `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.may(name, Permission::ReportsRead) || self.reviews(name)
    }

    /// True when the caller sees unpublished versions of report `name`.
    pub fn reviews(&self, name: &str) -> bool {
        self.may(name, Permission::ReportsReview)
    }

    /// True when the caller may see a version of report `name` with this published flag.
    pub fn sees(&self, name: &str, published: bool) -> bool {
        self.reads(name) && (published || self.reviews(name))
    }
}
