//! The fill job: tasks whose documents are not filled yet are claimed
//! (SKIP LOCKED, so several workers and servers share the work), each
//! document is filled from the task's row (and given its page QR codes),
//! stored, and the task becomes ready: its first signers turn PENDING and
//! the person is told by SMS.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enums::{SignOrder, SignerStatus};
use crate::db::field_definitions::FieldDefinition;
use crate::db::files::StoredFile;
use crate::db::ids::{FieldId, TemplateId};
use crate::db::tasks::{Document, Signer, Task};
use crate::db::templates::{Layout, Template, TemplateField};
use crate::domain::tasks::events::{self, Happened, Snapshot};
use crate::domain::tasks::initiate::VALUES_CONTEXT;
use crate::domain::tasks::signing::apply::invite;
use crate::domain::tasks::values::display;
use crate::domain::{Services, page_codes};
use crate::error::{AppError, AppResult};
use crate::events::TaskEventKind;
use crate::pdf::fill::{FieldText, OwnedFieldText, fill};
use crate::pdf::input::{self, Limits};
use crate::pdf::qr::add_page_codes;

/// Tasks one pass claims.
pub const PASS_SIZE: i64 = 16;
/// Failed fills are retried this often before the task keeps its error.
const MAX_ATTEMPTS: i32 = 3;
/// 20 mm: modules of about 0.5 mm, which phone cameras read from paper.
const QR_SIZE: f32 = 56.0;

/// What filling a template needs, loaded once per pass.
struct Prepared {
    template: Template,
    layout: Layout,
    pdf: Arc<Vec<u8>>,
}

/// Fills up to `PASS_SIZE` tasks; how many became ready.
pub async fn fill_pass(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<usize> {
    let ready = conn.transaction(async |conn| {
        let tasks = Task::claim_unfilled(conn, PASS_SIZE).await?;
        if tasks.is_empty() {
            return Ok(0);
        }
        let ids: Vec<_> = tasks.iter().map(|t| t.id).collect();
        let documents = Document::of_tasks(conn, &ids).await?;
        let signers = Signer::of_tasks(conn, &ids).await?;
        let mut prepared: HashMap<TemplateId, Arc<Prepared>> = HashMap::new();
        let mut definitions: HashMap<FieldId, FieldDefinition> = HashMap::new();
        let mut loaded = HashSet::new();
        let mut ready = 0;
        for task in &tasks {
            if loaded.insert(task.enterprise_id) {
                definitions.extend(
                    FieldDefinition::catalogue_and_custom(conn, &[task.enterprise_id])
                        .await?
                        .into_iter()
                        .map(|f| (f.id, f)),
                );
            }
            let outcome =
                fill_task(conn, svc, task, &documents, &mut prepared, &definitions).await;
            match outcome {
                Ok(()) => {
                    make_ready(conn, svc, task, &signers).await?;
                    ready += 1;
                }
                Err(AppError::Internal(error)) => {
                    let give_up = task.fill_attempts + 1 >= MAX_ATTEMPTS;
                    tracing::warn!(task = %task.id, error = %format!("{error:#}"), give_up, "filling a task failed");
                    Task::fill_failed(conn, task.id, &format!("{error:#}"), give_up).await?;
                }
                Err(other) => {
                    // Checked at initiation; a template changed under the
                    // task cannot be fixed by retrying.
                    Task::fill_failed(conn, task.id, &other.message(), true).await?;
                }
            }
        }
        Ok::<_, AppError>(ready)
    })
    .await?;
    if ready > 0 {
        svc.outbox.wake();
    }
    Ok(ready)
}

async fn prepare(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    template: TemplateId,
) -> AppResult<Prepared> {
    let template = Template::find_by_id(conn, template)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("template vanished")))?;
    let layout = Layout::of_template(conn, template.id).await?;
    let file = StoredFile::find(conn, template.file_id).await?;
    let pdf = svc
        .storage
        .fetch(&file.sha256)
        .await
        .map_err(AppError::internal)?;
    Ok(Prepared {
        template,
        layout,
        pdf: Arc::new(pdf),
    })
}

async fn fill_task(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    documents: &[Document],
    prepared: &mut HashMap<TemplateId, Arc<Prepared>>,
    definitions: &HashMap<FieldId, FieldDefinition>,
) -> AppResult<()> {
    let values: BTreeMap<String, String> = serde_json::from_slice(
        &svc.keys
            .open(&task.values_enc, VALUES_CONTEXT)
            .map_err(AppError::internal)?,
    )
    .map_err(AppError::internal)?;
    for document in documents.iter().filter(|d| d.task_id == task.id) {
        if document.file_id.is_some() {
            continue;
        }
        let template = match prepared.get(&document.template_id) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(prepare(conn, svc, document.template_id).await?);
                prepared.insert(document.template_id, p.clone());
                p
            }
        };
        let texts = box_texts(&template.template, &template.layout, definitions, &values)?;
        let urls: Option<Vec<String>> = task.add_page_qr_codes.then(|| {
            (1..=template.template.page_widths.len())
                .filter_map(|page| {
                    let code =
                        page_codes::encode(svc.keys, document.id.0, u16::try_from(page).ok()?)?;
                    Some(page_codes::url(&svc.config.public_base_url(), &code))
                })
                .collect()
        });
        let source = template.pdf.clone();
        let filled = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
            let document = input::load(&source, &Limits::default()).map_err(AppError::internal)?;
            let fields: Vec<FieldText<'_>> = texts.iter().map(OwnedFieldText::borrowed).collect();
            let filled =
                fill(&source, &document, &fields).map_err(|e| AppError::bad_input("values", e))?;
            match urls {
                None => Ok(filled),
                Some(urls) => {
                    let document =
                        input::load(&filled, &Limits::default()).map_err(AppError::internal)?;
                    add_page_codes(&filled, &document, &urls, QR_SIZE).map_err(AppError::internal)
                }
            }
        })
        .await??;
        let size = i64::try_from(filled.len()).map_err(AppError::internal)?;
        let sha256 = svc.storage.save(filled).await.map_err(AppError::internal)?;
        let file = StoredFile::insert(
            conn,
            &sha256,
            &document.name,
            "application/pdf",
            size,
            Some(task.initiated_by),
        )
        .await?;
        let pages =
            i32::try_from(template.template.page_widths.len()).map_err(AppError::internal)?;
        Document::set_file(conn, document.id, file.id, pages, svc.clock.now()).await?;
    }
    Ok(())
}

/// The texts of every box of `template` whose field has a value.
pub(crate) fn box_texts(
    template: &Template,
    layout: &Layout,
    definitions: &HashMap<FieldId, FieldDefinition>,
    values: &BTreeMap<String, String>,
) -> AppResult<Vec<OwnedFieldText>> {
    let mut texts = Vec::new();
    for properties in &layout.fields {
        let definition = definitions
            .get(&properties.field_id)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("a placed field vanished")))?;
        let Some(value) = values.get(&definition.key) else {
            continue;
        };
        texts.extend(field_texts(
            template, layout, properties, definition, value,
        )?);
    }
    Ok(texts)
}

/// The value of one field (stored form) shown in each of its boxes, in PDF
/// coordinates.
pub(crate) fn field_texts(
    template: &Template,
    layout: &Layout,
    field: &TemplateField,
    definition: &FieldDefinition,
    value: &str,
) -> AppResult<Vec<OwnedFieldText>> {
    let text = display(definition.field_type, field.date_format.as_deref(), value);
    layout
        .boxes
        .iter()
        .filter(|b| b.template_field_id == field.id)
        .map(|field_box| {
            let page = usize::try_from(field_box.page - 1).map_err(AppError::internal)?;
            let height = template
                .page_heights
                .get(page)
                .copied()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a box off the pages")))?;
            Ok(OwnedFieldText {
                key: definition.key.clone(),
                page,
                x: field_box.x,
                y: height - field_box.y - field_box.height,
                width: field_box.width,
                height: field_box.height,
                font_size: field.font_size,
                text: text.clone(),
            })
        })
        .collect()
}

/// The task's documents are filled: its first signers become PENDING and
/// the person among them gets the signing link by SMS.
async fn make_ready(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    signers: &[Signer],
) -> AppResult<()> {
    let now = svc.clock.now();
    Task::set_ready(conn, task.id, now).await?;
    let before = Snapshot::of(task, signers);
    let own: Vec<&Signer> = signers.iter().filter(|s| s.task_id == task.id).collect();
    let first_step = own.iter().map(|s| s.step).min().unwrap_or(1);
    let pending: Vec<&Signer> = own
        .into_iter()
        .filter(|s| task.sign_order == SignOrder::Unordered || s.step == first_step)
        .collect();
    let ids: Vec<_> = pending.iter().map(|s| s.id).collect();
    Signer::set_status(conn, &ids, SignerStatus::Pending).await?;
    let mut ready = task.clone();
    ready.ready_at = Some(now);
    let mut after: Vec<Signer> = signers
        .iter()
        .filter(|s| s.task_id == task.id)
        .cloned()
        .collect();
    for signer in after.iter_mut().filter(|s| ids.contains(&s.id)) {
        signer.status = SignerStatus::Pending;
    }
    let happened = ids
        .iter()
        .map(|id| Happened {
            kind: TaskEventKind::SignerPending,
            signer: Some(*id),
        })
        .collect();
    events::publish(
        conn,
        svc,
        task.id,
        happened,
        &before,
        &Snapshot::of(&ready, &after),
        now,
    )
    .await?;
    invite(conn, svc, task, &after, &ids).await?;
    Ok(())
}
