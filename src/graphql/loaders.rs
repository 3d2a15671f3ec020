//! DataLoaders: nested fields load in one query per batch, never one per
//! row. They keep no cache, so one schema-wide instance serves every request
//! with fresh rows; resolvers authorize before they load.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader, NoCache};

use crate::db::DbPool;
use crate::db::field_definitions::FieldDefinition;
use crate::db::ids::{EnterpriseId, UserId};
use crate::db::seals::Seal;
use crate::error::AppError;

type LoadError = Arc<anyhow::Error>;

fn load_error(error: impl Into<anyhow::Error>) -> LoadError {
    Arc::new(error.into())
}

/// The field catalogue plus an enterprise's custom fields.
pub struct FieldsLoader {
    pool: DbPool,
}

impl Loader<EnterpriseId> for FieldsLoader {
    type Value = Arc<Vec<FieldDefinition>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[EnterpriseId],
    ) -> Result<HashMap<EnterpriseId, Self::Value>, Self::Error> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| load_error(anyhow::anyhow!("database pool: {e}")))?;
        let rows = FieldDefinition::catalogue_and_custom(&mut conn, keys)
            .await
            .map_err(load_error)?;
        Ok(keys
            .iter()
            .map(|key| {
                let rows = rows
                    .iter()
                    .filter(|f| f.enterprise_id.is_none_or(|e| e == *key))
                    .cloned()
                    .collect();
                (*key, Arc::new(rows))
            })
            .collect())
    }
}

/// Whose seals: all of the enterprise's for its ADMIN, the granted ones for
/// a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberSealsKey {
    pub enterprise: EnterpriseId,
    pub user: UserId,
    pub admin: bool,
}

pub struct MemberSealsLoader {
    pool: DbPool,
}

impl Loader<MemberSealsKey> for MemberSealsLoader {
    type Value = Arc<Vec<Seal>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MemberSealsKey],
    ) -> Result<HashMap<MemberSealsKey, Self::Value>, Self::Error> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| load_error(anyhow::anyhow!("database pool: {e}")))?;
        let admin_of: Vec<EnterpriseId> = keys
            .iter()
            .filter(|k| k.admin)
            .map(|k| k.enterprise)
            .collect();
        let members: Vec<&MemberSealsKey> = keys.iter().filter(|k| !k.admin).collect();
        let all = Seal::of_enterprises(&mut conn, &admin_of)
            .await
            .map_err(load_error)?;
        let enterprises: Vec<EnterpriseId> = members.iter().map(|k| k.enterprise).collect();
        let users: Vec<UserId> = members.iter().map(|k| k.user).collect();
        let granted = Seal::granted_within(&mut conn, &enterprises, &users)
            .await
            .map_err(load_error)?;
        Ok(keys
            .iter()
            .map(|key| {
                let seals = if key.admin {
                    all.iter()
                        .filter(|s| s.enterprise_id == Some(key.enterprise))
                        .cloned()
                        .collect()
                } else {
                    granted
                        .iter()
                        .filter(|(user, s)| {
                            *user == key.user && s.enterprise_id == Some(key.enterprise)
                        })
                        .map(|(_, s)| s.clone())
                        .collect()
                };
                (*key, Arc::new(seals))
            })
            .collect())
    }
}

pub fn fields_loader(pool: DbPool) -> DataLoader<FieldsLoader, NoCache> {
    DataLoader::with_cache(FieldsLoader { pool }, tokio::spawn, NoCache)
}

pub fn member_seals_loader(pool: DbPool) -> DataLoader<MemberSealsLoader, NoCache> {
    DataLoader::with_cache(MemberSealsLoader { pool }, tokio::spawn, NoCache)
}

/// Loads through the schema's loader of type `L`.
pub async fn load<K, L>(ctx: &Context<'_>, key: K) -> Result<L::Value, AppError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K, Error = LoadError>,
{
    let loader = ctx
        .data::<DataLoader<L, NoCache>>()
        .map_err(|e| AppError::internal(anyhow::anyhow!("loader missing: {}", e.message)))?;
    loader
        .load_one(key)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e:#}")))?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("loader returned nothing")))
}
