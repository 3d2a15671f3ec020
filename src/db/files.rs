//! The `files` table: metadata of blobs in the content-addressed store.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{FileId, UserId};
use crate::db::schema::files;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct StoredFile {
    pub id: FileId,
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl StoredFile {
    pub async fn find(conn: &mut AsyncPgConnection, id: FileId) -> QueryResult<StoredFile> {
        files::table
            .find(id)
            .select(StoredFile::as_select())
            .first(conn)
            .await
    }

    pub async fn find_many(
        conn: &mut AsyncPgConnection,
        ids: &[FileId],
    ) -> QueryResult<Vec<StoredFile>> {
        files::table
            .filter(files::id.eq_any(ids))
            .select(StoredFile::as_select())
            .load(conn)
            .await
    }

    /// Deletes the rows of `ids` that no certification order refers to;
    /// their blobs stay for the store's garbage collection.
    pub async fn delete_unreferenced(
        conn: &mut AsyncPgConnection,
        ids: &[FileId],
    ) -> QueryResult<usize> {
        use crate::db::schema::certificate_orders as orders;
        let referenced = orders::table
            .filter(
                orders::authorization_letter_id
                    .eq_any(ids)
                    .or(orders::business_license_id.eq_any(ids))
                    .or(orders::handler_id_front_id.eq_any(ids))
                    .or(orders::handler_id_back_id.eq_any(ids)),
            )
            .select((
                orders::authorization_letter_id,
                orders::business_license_id,
                orders::handler_id_front_id,
                orders::handler_id_back_id,
            ))
            .load::<(
                Option<FileId>,
                Option<FileId>,
                Option<FileId>,
                Option<FileId>,
            )>(conn)
            .await?;
        let in_use: Vec<FileId> = referenced
            .into_iter()
            .flat_map(|(a, b, c, d)| [a, b, c, d])
            .flatten()
            .collect();
        let free: Vec<FileId> = ids
            .iter()
            .filter(|id| !in_use.contains(id))
            .copied()
            .collect();
        diesel::delete(files::table.filter(files::id.eq_any(free)))
            .execute(conn)
            .await
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        sha256: &str,
        name: &str,
        content_type: &str,
        size: i64,
        created_by: Option<UserId>,
    ) -> QueryResult<StoredFile> {
        diesel::insert_into(files::table)
            .values((
                files::id.eq(FileId::new()),
                files::sha256.eq(sha256),
                files::name.eq(name),
                files::content_type.eq(content_type),
                files::size.eq(size),
                files::created_by.eq(created_by),
            ))
            .returning(StoredFile::as_returning())
            .get_result(conn)
            .await
    }
}
