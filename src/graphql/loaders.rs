//! DataLoaders: nested fields load in one query per batch, never one per
//! row. They keep no cache, so one schema-wide instance serves every request
//! with fresh rows; resolvers authorize before they load.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader, NoCache};

use crate::db::DbPool;
use crate::db::certificates::Certificate;
use crate::db::enterprises::BusinessTypes;
use crate::db::field_definitions::FieldDefinition;
use crate::db::files::StoredFile;
use crate::db::ids::{
    BusinessTypeId, CertificateId, EnterpriseId, FileId, SealId, TemplateId, UserId,
};
use crate::db::seals::Seal;
use crate::db::templates::Layout;
use crate::db::users::User;
use crate::error::AppError;

type LoadError = Arc<anyhow::Error>;

fn load_error(error: impl Into<anyhow::Error>) -> LoadError {
    Arc::new(error.into())
}

async fn connection(pool: &DbPool) -> Result<crate::db::PooledConn, LoadError> {
    pool.get()
        .await
        .map_err(|e| load_error(anyhow::anyhow!("database pool: {e}")))
}

/// Stored files by id (seal images and other attachments).
pub struct FilesLoader {
    pool: DbPool,
}

impl Loader<FileId> for FilesLoader {
    type Value = StoredFile;
    type Error = LoadError;

    async fn load(&self, keys: &[FileId]) -> Result<HashMap<FileId, StoredFile>, Self::Error> {
        let mut conn = connection(&self.pool).await?;
        let rows = StoredFile::find_many(&mut conn, keys)
            .await
            .map_err(load_error)?;
        Ok(rows.into_iter().map(|f| (f.id, f)).collect())
    }
}

/// Certificates by id.
pub struct CertificatesLoader {
    pool: DbPool,
}

impl Loader<CertificateId> for CertificatesLoader {
    type Value = Certificate;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[CertificateId],
    ) -> Result<HashMap<CertificateId, Certificate>, Self::Error> {
        let mut conn = connection(&self.pool).await?;
        let rows = Certificate::find_many(&mut conn, keys)
            .await
            .map_err(load_error)?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// The members a seal is granted to.
pub struct GranteesLoader {
    pool: DbPool,
}

impl Loader<SealId> for GranteesLoader {
    type Value = Arc<Vec<User>>;
    type Error = LoadError;

    async fn load(&self, keys: &[SealId]) -> Result<HashMap<SealId, Self::Value>, Self::Error> {
        let mut conn = connection(&self.pool).await?;
        let pairs = Seal::grantees_of(&mut conn, keys)
            .await
            .map_err(load_error)?;
        let ids: Vec<UserId> = pairs.iter().map(|(_, user)| *user).collect();
        let users = User::find_many(&mut conn, &ids).await.map_err(load_error)?;
        Ok(keys
            .iter()
            .map(|seal| {
                let granted = pairs
                    .iter()
                    .filter(|(s, _)| s == seal)
                    .filter_map(|(_, user)| users.iter().find(|u| u.id == *user).cloned())
                    .collect();
                (*seal, Arc::new(granted))
            })
            .collect())
    }
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
        let mut conn = connection(&self.pool).await?;
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

/// The business types of an enterprise, (id, name).
pub struct BusinessTypesLoader {
    pool: DbPool,
}

impl Loader<EnterpriseId> for BusinessTypesLoader {
    type Value = Arc<Vec<(BusinessTypeId, String)>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[EnterpriseId],
    ) -> Result<HashMap<EnterpriseId, Self::Value>, Self::Error> {
        let mut conn = connection(&self.pool).await?;
        let rows = BusinessTypes::of_many(&mut conn, keys)
            .await
            .map_err(load_error)?;
        Ok(keys
            .iter()
            .map(|key| {
                let types = rows
                    .iter()
                    .filter(|(enterprise, _, _)| enterprise == key)
                    .map(|(_, id, name)| (*id, name.clone()))
                    .collect();
                (*key, Arc::new(types))
            })
            .collect())
    }
}

/// Roles, fields, boxes and seal slots of templates.
pub struct TemplateLayoutLoader {
    pool: DbPool,
}

impl Loader<TemplateId> for TemplateLayoutLoader {
    type Value = Arc<Layout>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[TemplateId],
    ) -> Result<HashMap<TemplateId, Self::Value>, Self::Error> {
        let mut conn = connection(&self.pool).await?;
        let layouts = Layout::of(&mut conn, keys).await.map_err(load_error)?;
        Ok(layouts
            .into_iter()
            .map(|(id, layout)| (id, Arc::new(layout)))
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
        let mut conn = connection(&self.pool).await?;
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

/// Adds every loader to the schema's data.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    pool: &DbPool,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    let pool = || pool.clone();
    builder
        .data(DataLoader::with_cache(
            FieldsLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            MemberSealsLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            FilesLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            CertificatesLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            GranteesLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            BusinessTypesLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
        .data(DataLoader::with_cache(
            TemplateLayoutLoader { pool: pool() },
            tokio::spawn,
            NoCache,
        ))
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
