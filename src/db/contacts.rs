//! The `frequent_contacts` table (常用联系人) of each enterprise.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{ContactId, EnterpriseId, UserId};
use crate::db::schema::frequent_contacts;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = frequent_contacts, check_for_backend(diesel::pg::Pg))]
pub struct Contact {
    pub id: ContactId,
    pub enterprise_id: EnterpriseId,
    pub name: String,
    pub phone: String,
    pub enterprise_name: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

impl Contact {
    pub async fn insert(conn: &mut AsyncPgConnection, new: &Contact) -> QueryResult<Contact> {
        diesel::insert_into(frequent_contacts::table)
            .values(new)
            .returning(Contact::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn of_enterprise(
        conn: &mut AsyncPgConnection,
        enterprise: EnterpriseId,
    ) -> QueryResult<Vec<Contact>> {
        frequent_contacts::table
            .filter(frequent_contacts::enterprise_id.eq(enterprise))
            .order((
                frequent_contacts::name.asc(),
                frequent_contacts::created_at.asc(),
            ))
            .select(Contact::as_select())
            .load(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: ContactId) -> QueryResult<Option<Contact>> {
        frequent_contacts::table
            .find(id)
            .select(Contact::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: ContactId) -> QueryResult<usize> {
        diesel::delete(frequent_contacts::table.find(id))
            .execute(conn)
            .await
    }
}
