//! `initiateSigningBatch`: a checked batch becomes its tasks, signers,
//! documents and CC rows, paid with one quota unit per task, in one
//! transaction. Documents are filled afterwards by the fill job; signers
//! hear of a task once its documents are ready.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::{DocumentStatus, PartyKind, SignerStatus, TaskStatus};
use crate::db::ids::{BatchId, DocumentId, SignerId, TaskId};
use crate::db::quota::Quota;
use crate::db::tasks::{Batch, Document, NewBatch, Signer, Task};
use crate::db::templates::Template;
use crate::db::users::User;
use crate::domain::real_name::ID_CONTEXT;
use crate::domain::tasks::events;
use crate::domain::tasks::plan::{BatchInput, Plan, Rows, plan};
use crate::domain::tasks::values::Cell;
use crate::domain::{RequestMeta, Services, Viewer, audit, membership, templates};
use crate::error::{AppError, AppResult};
use crate::pki::secrets::sha256;

/// The key a task's sealed values are bound to.
pub const VALUES_CONTEXT: &[u8] = b"task-values";

/// SHA-256 (hex) of the input in a fixed JSON form: a retry with the same
/// key must carry the same input.
fn fingerprint(input: &BatchInput) -> String {
    let cell = |c: &Cell| match c {
        Cell::Text(s) => serde_json::json!({ "t": s }),
        Cell::Number(n) => serde_json::json!({ "n": n }),
        Cell::Date(d) => serde_json::json!({ "d": d.to_string() }),
        Cell::Error => serde_json::json!({ "e": true }),
    };
    let value = serde_json::json!({
        "enterprise": input.enterprise.to_string(),
        "title": input.title,
        "businessType": input.business_type.to_string(),
        "confidential": input.confidential,
        "handler": input.handler.map(|h| h.to_string()),
        "templates": input.templates.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "qr": input.add_page_qr_codes,
        "order": input.sign_order.as_str(),
        "deadline": input.deadline.map(|d| d.to_rfc3339()),
        "enterpriseSigners": input.enterprise_signers.iter().map(|s| serde_json::json!([
            s.role_key, s.enterprise.to_string(), s.step, s.can_refuse,
            s.cross_page_seal.map(|id| id.to_string()),
        ])).collect::<Vec<_>>(),
        "personSigner": [input.person_signer.role_key, input.person_signer.step, input.person_signer.can_refuse],
        "cc": input.cc.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "signerCompleted": input.signer_completed_field_keys,
        "rows": match &input.rows {
            Rows::Form(rows) => serde_json::json!(rows.iter().map(|r| serde_json::json!([
                r.number, r.name, r.phone, r.id_number.as_ref().map(cell),
                r.values.iter().map(|(k, v)| serde_json::json!([k, cell(v)])).collect::<Vec<_>>(),
            ])).collect::<Vec<_>>()),
            Rows::Sheet(bytes) => serde_json::json!({ "sheet": hex::encode(sha256(bytes)) }),
        },
    });
    hex::encode(sha256(value.to_string().as_bytes()))
}

fn check_key(key: Option<&str>) -> AppResult<Option<&str>> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if k.is_empty() || k.chars().count() > 100 => Err(AppError::bad_input(
            "input.idempotencyKey",
            "an idempotency key has 1 to 100 characters",
        )),
        Some(k) => Ok(Some(k)),
    }
}

/// The batch an earlier request with this key made, if any; CONFLICT when
/// that request carried another input.
async fn earlier(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    key: Option<&str>,
    fingerprint: &str,
) -> AppResult<Option<Batch>> {
    let Some(key) = key else { return Ok(None) };
    match Batch::by_idempotency_key(conn, viewer.user_id, key).await? {
        Some(batch) if batch.input_sha256 == fingerprint => Ok(Some(batch)),
        Some(_) => Err(AppError::Conflict(
            "this idempotency key was used for another batch".into(),
        )),
        None => Ok(None),
    }
}

/// Checks the batch and its rows without writing anything.
pub async fn validate(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    input: &BatchInput,
) -> AppResult<Plan> {
    plan(conn, viewer, input, svc.clock.now()).await
}

pub async fn initiate(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    input: &BatchInput,
) -> AppResult<Batch> {
    let key = check_key(input.idempotency_key.as_deref())?;
    let fingerprint = fingerprint(input);
    if let Some(batch) = earlier(conn, viewer, key, &fingerprint).await? {
        return Ok(batch);
    }
    let now = svc.clock.now();
    let plan = plan(conn, viewer, input, now).await?;
    if !plan.errors.is_empty() {
        return Err(AppError::InvalidRows(plan.errors));
    }
    let phones: Vec<String> = plan.rows.iter().map(|r| r.phone.clone()).collect();
    let registered = User::ids_by_phones(conn, &phones).await?;
    let rows = build(
        svc,
        viewer,
        input,
        &plan,
        key,
        &fingerprint,
        &registered,
        now,
    )?;
    let result = conn
        .transaction(async |conn| {
            // The checks of `plan` that others can undo meanwhile, again
            // under lock: the viewer's membership and grant, the templates.
            membership::member_of(conn, viewer, input.enterprise).await?;
            if !membership::visible_business_types(conn, viewer, input.enterprise)
                .await?
                .iter()
                .any(|(id, _)| *id == input.business_type)
            {
                return Err(AppError::NotFound("business type"));
            }
            for planned in &plan.templates {
                let current = templates::find(conn, viewer, planned.template.id).await?;
                if current.status != crate::db::enums::TemplateStatus::Published {
                    return Err(AppError::Conflict(format!(
                        "template {} was disabled meanwhile",
                        current.name
                    )));
                }
            }
            let task_ids: Vec<TaskId> = rows.tasks.iter().map(|t| t.id).collect();
            rows.insert(conn).await?;
            if !Quota::debit_tasks(conn, input.enterprise, &task_ids, viewer.user_id, now).await? {
                return Err(AppError::QuotaExhausted);
            }
            events::initiated(conn, svc, &rows.tasks, &rows.cc, now).await?;
            audit::record(
                conn,
                svc,
                audit::Entry {
                    enterprise: Some(input.enterprise.0),
                    actor: Some(viewer.user_id),
                    action: "batch.initiate",
                    target_type: "signing_batch",
                    target_id: Some(rows.batch.id.to_string()),
                    details: serde_json::json!({
                        "title": rows.batch.title,
                        "tasks": rows.tasks.len(),
                        "templates": plan.templates.iter().map(|t| t.template.id.to_string()).collect::<Vec<_>>(),
                    }),
                    client_ip: Some(&meta.client_ip),
                },
            )
            .await?;
            Ok(rows.batch.clone())
        })
        .await;
    match result {
        Ok(batch) => {
            svc.documents.wake();
            Ok(batch)
        }
        // A concurrent request with the same key may have won the race.
        Err(AppError::Conflict(message)) if key.is_some() => {
            match earlier(conn, viewer, key, &fingerprint).await? {
                Some(batch) => Ok(batch),
                None => Err(AppError::Conflict(message)),
            }
        }
        Err(e) => Err(e),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "everything a batch's rows are made of"
)]
fn build(
    svc: &Services<'_>,
    viewer: &Viewer,
    input: &BatchInput,
    plan: &Plan,
    key: Option<&str>,
    fingerprint: &str,
    registered: &[(crate::db::ids::UserId, String)],
    now: DateTime<Utc>,
) -> AppResult<NewBatch> {
    let batch = Batch {
        id: BatchId::new(),
        enterprise_id: input.enterprise,
        business_type_id: input.business_type,
        title: input.title.trim().to_owned(),
        initiated_by: viewer.user_id,
        idempotency_key: key.map(str::to_owned),
        input_sha256: fingerprint.to_owned(),
        task_count: i32::try_from(plan.rows.len()).map_err(AppError::internal)?,
        created_at: now,
    };
    let mut rows = NewBatch {
        batch,
        tasks: Vec::with_capacity(plan.rows.len()),
        signers: Vec::new(),
        documents: Vec::new(),
        cc: Vec::new(),
    };
    let person_role = plan
        .roles
        .iter()
        .find(|r| r.kind == PartyKind::Person)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no person role")))?;
    for (i, row) in plan.rows.iter().enumerate() {
        let task = TaskId::new();
        let values = serde_json::to_vec(&row.values).map_err(AppError::internal)?;
        rows.tasks.push(Task {
            id: task,
            batch_id: rows.batch.id,
            row_number: i32::try_from(i + 1).map_err(AppError::internal)?,
            enterprise_id: input.enterprise,
            business_type_id: input.business_type,
            title: rows.batch.title.clone(),
            confidential: input.confidential,
            status: TaskStatus::InProgress,
            void_reason: None,
            void_note: None,
            initiated_by: viewer.user_id,
            handler_id: plan.handler,
            sign_order: input.sign_order,
            deadline: input.deadline,
            add_page_qr_codes: input.add_page_qr_codes,
            values_enc: svc
                .keys
                .seal(&values, VALUES_CONTEXT)
                .map_err(AppError::internal)?,
            signer_completed_field_keys: input.signer_completed_field_keys.clone(),
            ready_at: None,
            fill_attempts: 0,
            fill_error: None,
            created_at: now,
            completed_at: None,
            all_signed_at: None,
        });
        let mut position = 0;
        for signer in &input.enterprise_signers {
            let role = plan
                .roles
                .iter()
                .find(|r| r.key == signer.role_key)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("role vanished")))?;
            rows.signers.push(Signer {
                id: SignerId::new(),
                task_id: task,
                position,
                kind: PartyKind::Enterprise,
                role_key: role.key.clone(),
                role_name: role.name.clone(),
                step: signer.step,
                can_refuse: signer.can_refuse,
                status: SignerStatus::Waiting,
                enterprise_id: Some(signer.enterprise),
                cross_page_seal_id: signer.cross_page_seal,
                user_id: None,
                person_name: None,
                person_phone: None,
                person_id_number_hash: None,
                signed_at: None,
                refused_at: None,
                refuse_reason: None,
                reminded_at: None,
            });
            position += 1;
        }
        let id_hash = row
            .id_number
            .as_deref()
            .map(|id| svc.keys.lookup_hash(ID_CONTEXT, id.as_bytes()))
            .transpose()
            .map_err(AppError::internal)?;
        rows.signers.push(Signer {
            id: SignerId::new(),
            task_id: task,
            position,
            kind: PartyKind::Person,
            role_key: person_role.key.clone(),
            role_name: person_role.name.clone(),
            step: input.person_signer.step,
            can_refuse: input.person_signer.can_refuse,
            status: SignerStatus::Waiting,
            enterprise_id: None,
            cross_page_seal_id: None,
            user_id: registered
                .iter()
                .find(|(_, phone)| *phone == row.phone)
                .map(|(id, _)| *id),
            person_name: Some(row.name.clone()),
            person_phone: Some(row.phone.clone()),
            person_id_number_hash: id_hash,
            signed_at: None,
            refused_at: None,
            refuse_reason: None,
            reminded_at: None,
        });
        for (position, planned) in plan.templates.iter().enumerate() {
            rows.documents.push(Document {
                id: DocumentId::new(),
                task_id: task,
                position: i32::try_from(position).map_err(AppError::internal)?,
                template_id: planned.template.id,
                name: document_name(&planned.template),
                status: DocumentStatus::InProgress,
                file_id: None,
                page_count: None,
                created_at: now,
                updated_at: now,
            });
        }
        for user in &input.cc {
            rows.cc.push((task, *user));
        }
    }
    Ok(rows)
}

fn document_name(template: &Template) -> String {
    format!("{}.pdf", template.name)
}

/// The .xlsx an initiator fills for `templates` (Excel import mode), with
/// the enterprise's fixed information in the first data row.
pub async fn sheet_template(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    enterprise: crate::db::ids::EnterpriseId,
    template_ids: &[crate::db::ids::TemplateId],
    signer_completed: &[String],
) -> AppResult<crate::db::files::StoredFile> {
    let (owner, _) = membership::member_of(conn, viewer, enterprise).await?;
    let templates =
        crate::domain::tasks::plan::load_templates(conn, viewer, enterprise, None, template_ids)
            .await?;
    let definitions: std::collections::HashMap<_, _> =
        crate::db::field_definitions::FieldDefinition::catalogue_and_custom(conn, &[enterprise])
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
    let fields =
        crate::domain::tasks::plan::fill_fields(&templates, &definitions, signer_completed)?;
    let columns = crate::domain::tasks::sheet::columns(&fields);
    let first_row: std::collections::HashMap<String, String> =
        crate::domain::tasks::plan::enterprise_defaults(&owner)
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
    let xlsx = tokio::task::spawn_blocking(move || {
        crate::domain::tasks::sheet::template(&columns, &first_row)
    })
    .await?
    .map_err(AppError::internal_message)?;
    let size = i64::try_from(xlsx.len()).map_err(AppError::internal)?;
    let store = svc.storage.clone();
    let sha256 = tokio::task::spawn_blocking(move || store.put(&xlsx))
        .await?
        .map_err(AppError::internal)?;
    Ok(crate::db::files::StoredFile::insert(
        conn,
        &sha256,
        "签署数据模板.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        size,
        Some(viewer.user_id),
    )
    .await?)
}

/// The contract one row of a batch would get from one of its templates
/// (filled, not stored as part of any task). A row with problems is
/// refused with its row errors.
pub async fn preview_document(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    input: &BatchInput,
    row: i32,
    template: crate::db::ids::TemplateId,
) -> AppResult<crate::db::files::StoredFile> {
    let plan = plan(conn, viewer, input, svc.clock.now()).await?;
    let Some(planned_row) = plan.rows.iter().find(|r| r.number == row) else {
        return Err(AppError::bad_input("row", "the batch has no such row"));
    };
    let errors: Vec<_> = plan
        .errors
        .iter()
        .filter(|e| e.row == row)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(AppError::InvalidRows(errors));
    }
    let Some(planned) = plan.templates.iter().find(|t| t.template.id == template) else {
        return Err(AppError::bad_input(
            "templateId",
            "the template is not one of the batch's",
        ));
    };
    let definitions: std::collections::HashMap<_, _> =
        crate::db::field_definitions::FieldDefinition::catalogue_and_custom(
            conn,
            &[input.enterprise],
        )
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let texts = crate::domain::tasks::fill::box_texts(
        &planned.template,
        &planned.layout,
        &definitions,
        &planned_row.values,
    )?;
    let source = crate::db::files::StoredFile::find(conn, planned.template.file_id).await?;
    let store = svc.storage.clone();
    let pdf = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let bytes = store.get(&source.sha256).map_err(AppError::internal)?;
        let document = crate::pdf::input::load(&bytes, &crate::pdf::input::Limits::default())
            .map_err(AppError::internal)?;
        let fields: Vec<_> = texts
            .iter()
            .map(crate::pdf::fill::OwnedFieldText::borrowed)
            .collect();
        crate::pdf::fill::fill(&bytes, &document, &fields).map_err(AppError::internal)
    })
    .await??;
    let size = i64::try_from(pdf.len()).map_err(AppError::internal)?;
    let store = svc.storage.clone();
    let sha256 = tokio::task::spawn_blocking(move || store.put(&pdf))
        .await?
        .map_err(AppError::internal)?;
    Ok(crate::db::files::StoredFile::insert(
        conn,
        &sha256,
        &format!("{}（预览）.pdf", planned.template.name),
        "application/pdf",
        size,
        Some(viewer.user_id),
    )
    .await?)
}
