//! A published template never changes again (only its status does), so
//! signing reads each one's pages and layout once per process instead of
//! five statements per signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use diesel_async::AsyncPgConnection;

use crate::db::enums::TemplateStatus;
use crate::db::ids::TemplateId;
use crate::db::templates::{Layout, Role, Template};
use crate::error::{AppError, AppResult};

/// Templates kept; past it the cache starts over.
const CAPACITY: usize = 1024;

/// A template's pages and layout. Its `status` is the one it had when
/// read: ask the database for the current one.
pub struct Frozen {
    pub template: Template,
    pub layout: Layout,
}

impl Frozen {
    /// The template's role with this key.
    pub fn role(&self, key: &str) -> Option<&Role> {
        self.layout.roles.iter().find(|r| r.key == key)
    }
}

type Cache = Mutex<HashMap<TemplateId, Arc<Frozen>>>;

static CACHE: OnceLock<Cache> = OnceLock::new();

fn cache() -> std::sync::MutexGuard<'static, HashMap<TemplateId, Arc<Frozen>>> {
    CACHE
        .get_or_init(Cache::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The template `id` with its layout; a draft is read afresh each time.
pub async fn frozen(conn: &mut AsyncPgConnection, id: TemplateId) -> AppResult<Arc<Frozen>> {
    if let Some(hit) = cache().get(&id) {
        return Ok(hit.clone());
    }
    let template = Template::find_by_id(conn, id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("template {id} vanished")))?;
    let layout = Layout::of_template(conn, id).await?;
    let draft = template.status == TemplateStatus::Draft;
    let frozen = Arc::new(Frozen { template, layout });
    if !draft {
        let mut cache = cache();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(id, frozen.clone());
    }
    Ok(frozen)
}
