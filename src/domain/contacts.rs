//! Frequent contacts (常用联系人): the signers an enterprise's members pick
//! most; any member adds, lists and removes them.

use diesel_async::AsyncPgConnection;

use crate::db::contacts::Contact;
use crate::db::ids::{ContactId, EnterpriseId};
use crate::domain::accounts::phone::parse_phone;
use crate::domain::membership::member_of;
use crate::domain::{Services, Viewer};
use crate::error::{AppError, AppResult};

pub async fn add(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    name: &str,
    phone: &str,
    enterprise_name: Option<&str>,
) -> AppResult<Contact> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 30 || name.chars().any(char::is_control) {
        return Err(AppError::bad_input("name", "a name has 1 to 30 characters"));
    }
    let phone = parse_phone("phone", phone)?;
    let enterprise_name = enterprise_name.map(str::trim).filter(|n| !n.is_empty());
    if enterprise_name.is_some_and(|n| n.chars().count() > 60 || n.chars().any(char::is_control)) {
        return Err(AppError::bad_input(
            "enterpriseName",
            "an enterprise name has at most 60 characters",
        ));
    }
    member_of(conn, viewer, enterprise).await?;
    Contact::insert(
        conn,
        &Contact {
            id: ContactId::new(),
            enterprise_id: enterprise,
            name: name.to_owned(),
            phone,
            enterprise_name: enterprise_name.map(str::to_owned),
            created_by: viewer.user_id,
            created_at: svc.clock.now(),
        },
    )
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict("a contact with this phone exists".into()),
        other => other,
    })
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    enterprise: EnterpriseId,
) -> AppResult<Vec<Contact>> {
    member_of(conn, viewer, enterprise).await?;
    Ok(Contact::of_enterprise(conn, enterprise).await?)
}

/// Removes a contact of an enterprise the viewer belongs to; NOT_FOUND
/// for anyone else's.
pub async fn remove(conn: &mut AsyncPgConnection, viewer: &Viewer, id: ContactId) -> AppResult<()> {
    let contact = Contact::find(conn, id)
        .await?
        .ok_or(AppError::NotFound("contact"))?;
    member_of(conn, viewer, contact.enterprise_id)
        .await
        .map_err(|_| AppError::NotFound("contact"))?;
    Contact::delete(conn, id).await?;
    Ok(())
}
