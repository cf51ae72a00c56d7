//! Console sessions: a signed-in browser's session, found by the SHA-256 of its cookie (the
//! cookie itself is never stored), standing for one API key until it expires, is ended, or its
//! key is revoked.

use crate::auth::api_key::{random_token, token_digest};

use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The API key it stands for.
    pub key_id: String,
    /// The token every state-changing request of the session must carry.
    pub csrf_token: String,
    /// When it began (Unix ms).
    pub created_ms: u64,
}

/// A session just begun: the cookie value to hand to the browser, and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value (256 random bits); only its digest is stored.
    pub cookie: String,
    /// The session.
    pub session: Session,
}

impl Store {
    /// Begins a session for key `key_id` lasting `ttl_secs`.
    pub async fn begin_session(&self, key_id: &str, ttl_secs: u64) -> StoreResult<NewSession> {
        let cookie = random_token();
        let session = Session {
            key_id: key_id.to_owned(),
            csrf_token: random_token(),
            created_ms: now_ms(),
        };
        let digest = token_digest(&cookie);
        let record = self.keys.session(&digest);
        let index = self.keys.key_sessions(key_id);
        let ttl = ttl_secs.max(1);
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&record)
            .arg("key")
            .arg(key_id)
            .arg("csrf")
            .arg(&session.csrf_token)
            .arg("created")
            .arg(session.created_ms)
            .ignore()
            .cmd("EXPIRE")
            .arg(&record)
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(&index)
            .arg(&digest)
            .ignore()
            .cmd("EXPIRE")
            .arg(&index)
            .arg(ttl)
            .arg("GT")
            .ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(NewSession { cookie, session })
    }

    /// The session a cookie names, while it lasts.
    pub async fn session(&self, cookie: &str) -> StoreResult<Option<Session>> {
        let mut conn = self.conn().await?;
        let (key_id, csrf_token, created): (Option<String>, Option<String>, Option<u64>) =
            redis::cmd("HMGET")
                .arg(self.keys.session(&token_digest(cookie)))
                .arg("key")
                .arg("csrf")
                .arg("created")
                .query_async(&mut conn)
                .await?;
        Ok(match (key_id, csrf_token) {
            (Some(key_id), Some(csrf_token)) => Some(Session {
                key_id,
                csrf_token,
                created_ms: created.unwrap_or_default(),
            }),
            _ => None,
        })
    }

    /// Ends the session a cookie names (signing out); false when there was none.
    pub async fn end_session(&self, cookie: &str) -> StoreResult<bool> {
        let digest = token_digest(cookie);
        let Some(session) = self.session(cookie).await? else {
            return Ok(false);
        };
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(self.keys.session(&digest))
            .ignore()
            .cmd("SREM")
            .arg(self.keys.key_sessions(&session.key_id))
            .arg(&digest)
            .ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(true)
    }

    /// Ends every session of a key (when it is revoked); returns how many there were.
    pub async fn end_sessions_of(&self, key_id: &str) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let index = self.keys.key_sessions(key_id);
        let digests: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&index)
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for digest in &digests {
            pipe.cmd("DEL").arg(self.keys.session(digest)).ignore();
        }
        pipe.cmd("DEL").arg(&index).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(digests.len())
    }
}
