//! The first phase of signing: which signer the viewer acts for, which of
//! its documents, which seal on which slot, the values it completes and
//! the certificate it signs with, all checked; then, in one transaction,
//! the intent code is used up and the attempt recorded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use crate::db::certificates::Certificate;
use crate::db::enums::{
    AttemptStatus, CertificateKind, MemberRole, PartyKind, SealKind, SealStatus,
};
use crate::db::field_definitions::FieldDefinition;
use crate::db::ids::{AttemptId, DocumentId, FieldId, SealId, TemplateId};
use crate::db::seals::Seal;
use crate::db::signing::{Attempt, Evidence};
use crate::db::tasks::{Document, Signer, Task};
use crate::db::templates::{Role, Template, TemplateField};
use crate::db::users::User;
use crate::domain::tasks::fill::field_texts;
use crate::domain::tasks::initiate::VALUES_CONTEXT;
use crate::domain::tasks::intent;
use crate::domain::tasks::parties::Turn;
use crate::domain::tasks::signing::{
    CrossPagePlan, DocumentPlan, Known, PLAN_CONTEXT, PlacementInput, SignInput, SigningPlan,
    StampImage, StampPlan,
};
use crate::domain::tasks::values::{Cell, normalize};
use crate::domain::templates::frozen::{Frozen as Loaded, frozen};
use crate::domain::templates::{slot_size, stamps};
use crate::domain::{RequestMeta, Services, Viewer, certificates, seals};
use crate::error::{AppError, AppResult};
use crate::pdf::fill::check_fits;
use crate::pdf::font::Fonts;

/// Placements one call may make.
const MAX_PLACEMENTS: usize = 200;
/// Tolerance of a free placement's edges against its page, in points.
const EDGE: f32 = 0.5;

/// Checks the call and plans it, then, in one transaction, uses the code
/// up, re-checks the signer's turn and records the attempt; a wrong code
/// counts as a try.
pub async fn prepare(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    task: &Task,
    turn: Turn,
    input: &SignInput,
) -> AppResult<(Attempt, Known)> {
    let signer = choose(&turn.signers, input)?;
    let role = signer.enterprise_id.and_then(|e| turn.role_in(e));
    if input.placements.len() > MAX_PLACEMENTS {
        return Err(AppError::bad_input(
            "placements",
            format!("at most {MAX_PLACEMENTS} placements"),
        ));
    }
    // Independent reads, pipelined on the shared connection.
    let ids = [task.id];
    let (certificates, documents, evidence, seals) = futures_util::try_join!(
        certificates_of(conn, &turn.user, &signer),
        Document::of_task_with_sha256(conn, task.id),
        Evidence::of_tasks(conn, &ids),
        seals_of(conn, viewer, &signer, role),
    )?;
    let certificate = certificate_for(conn, svc, &turn.user, &signer, certificates).await?;
    let read = Read {
        documents,
        evidence,
        seals: usable(svc, &signer, seals),
    };
    let (mut plan, documents) = plan(conn, svc, task, &signer, read, input).await?;
    plan.certificate_serial = certificate.serial_hex.clone();
    let plan_json = serde_json::to_vec(&plan).map_err(AppError::internal)?;
    let plan_enc = svc
        .keys
        .seal(&plan_json, PLAN_CONTEXT)
        .map_err(AppError::internal)?;
    let mac = intent::code_mac(svc, task.id, viewer, &input.sms_code)?;
    let now = svc.clock.now();
    let attempt = Attempt {
        id: AttemptId::new(),
        task_id: task.id,
        signer_id: signer.id,
        user_id: viewer.user_id,
        code_mac: mac,
        status: AttemptStatus::Prepared,
        plan_enc,
        certificate_id: certificate.id,
        client_ip: meta.client_ip.clone(),
        user_agent: meta.user_agent.clone(),
        revisions: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    // The plan holds while the signer's turn does: `apply` re-checks the
    // documents' versions.
    intent::record_attempt(conn, &attempt).await?;
    Ok((
        attempt,
        Known {
            certificate: Some(certificate),
            documents: Some(documents),
        },
    ))
}

/// The pending signer the call is for: the enterprise named, else the
/// person, else the only one.
fn choose(pending: &[Signer], input: &SignInput) -> AppResult<Signer> {
    let found = match input.enterprise {
        Some(enterprise) => pending.iter().find(|s| s.enterprise_id == Some(enterprise)),
        None => pending
            .iter()
            .find(|s| s.kind == PartyKind::Person)
            .or(match pending {
                [only] => Some(only),
                _ => None,
            }),
    };
    found.cloned().ok_or_else(|| match input.enterprise {
        Some(_) => {
            AppError::Conflict("you do not sign for this enterprise on this task now".into())
        }
        None => AppError::bad_input(
            "enterpriseId",
            "you sign for several enterprises here: name the one you sign for",
        ),
    })
}

/// The certificates the signer may sign with: the person's own, or the
/// enterprise's.
async fn certificates_of(
    conn: &AsyncPgConnection,
    user: &User,
    signer: &Signer,
) -> QueryResult<Vec<Certificate>> {
    match signer.enterprise_id {
        Some(enterprise) => Certificate::of_enterprise(conn, enterprise).await,
        None => Certificate::of_user(conn, user.id).await,
    }
}

/// The signer's cloud certificate among its `certificates`: the person's
/// own (issued now if it has none that is valid), or the enterprise's.
async fn certificate_for(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    user: &User,
    signer: &Signer,
    certificates: Vec<Certificate>,
) -> AppResult<Certificate> {
    let now = svc.clock.now();
    let found = certificates.into_iter().find(|c| {
        c.kind == CertificateKind::Cloud
            && c.revoked_at.is_none()
            && c.not_before <= now
            && c.not_after > now
            && c.private_key_enc.is_some()
    });
    let certificate = match (found, signer.enterprise_id) {
        (Some(found), _) => found,
        (None, Some(_)) => {
            return Err(AppError::Conflict(
                "the enterprise has no valid cloud certificate: renew it before signing".into(),
            ));
        }
        (None, None) => {
            let (Some(name), Some(hash)) = (user.name.as_deref(), user.id_number_hash.as_deref())
            else {
                return Err(AppError::Forbidden(
                    "complete real-name verification to act on this task",
                ));
            };
            certificates::issue_person_certificate(conn, svc, user.id, name, hash).await?
        }
    };
    Ok(certificate)
}

/// The signing date as date seals show it (Beijing time).
fn date_text(at: DateTime<Utc>) -> String {
    const FORMAT: &str = "%Y年%m月%d日";
    match FixedOffset::east_opt(8 * 3600) {
        Some(beijing) => at.with_timezone(&beijing).format(FORMAT).to_string(),
        None => at.format(FORMAT).to_string(),
    }
}

/// The seals the viewer holds for `signer`: the person's own, or the
/// enterprise's (all for its ADMIN, the granted ones for a member, by the
/// `role` the viewer was found to hold).
async fn seals_of(
    conn: &AsyncPgConnection,
    viewer: &Viewer,
    signer: &Signer,
    role: Option<MemberRole>,
) -> QueryResult<Vec<Seal>> {
    match signer.enterprise_id {
        None => Seal::of_person(conn, viewer.user_id).await,
        Some(enterprise) => match role {
            Some(MemberRole::Admin) => Seal::of_enterprise(conn, enterprise).await,
            Some(MemberRole::Member) => Seal::granted_to(conn, enterprise, viewer.user_id).await,
            None => Ok(Vec::new()),
        },
    }
}

/// Of `all`, the seals that may stamp for `signer` now: enabled, within
/// their validity, of a kind its party stamps.
fn usable(svc: &Services<'_>, signer: &Signer, all: Vec<Seal>) -> Vec<Seal> {
    let now = svc.clock.now();
    all.into_iter()
        .filter(|s| {
            s.status == SealStatus::Enabled
                && s.valid_from <= now
                && s.valid_until.is_none_or(|until| until > now)
                && stamps(signer.kind, s.kind)
        })
        .collect()
}

/// What planning works from, read beforehand.
struct Read {
    /// The task's documents with their current files' hashes.
    documents: Vec<(Document, Option<String>)>,
    /// The task's signatures so far.
    evidence: Vec<Evidence>,
    /// The seals the viewer may stamp for the signer.
    seals: Vec<Seal>,
}

/// Where a top-left-based rectangle of `size` at (x, y) on 1-based `page`
/// lies in PDF coordinates; None off the document.
fn on_page(template: &Template, page: i32, x: f32, y: f32, size: (f32, f32)) -> Option<StampPlan> {
    let index = usize::try_from(page.checked_sub(1)?).ok()?;
    let height = *template.page_heights.get(index)?;
    Some(StampPlan {
        page: index,
        x,
        y: height - y - size.1,
        width: size.0,
        height: size.1,
        image: StampImage::Date {
            text: String::new(),
        },
    })
}

async fn plan(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    task: &Task,
    signer: &Signer,
    read: Read,
    input: &SignInput,
) -> AppResult<(SigningPlan, Vec<(Document, Option<String>)>)> {
    let Read {
        documents: read,
        evidence,
        seals,
    } = read;
    let documents: Vec<Document> = read.iter().map(|(d, _)| d.clone()).collect();
    let mut loaded: HashMap<TemplateId, Arc<Loaded>> = HashMap::new();
    for document in &documents {
        if let std::collections::hash_map::Entry::Vacant(entry) = loaded.entry(document.template_id)
        {
            entry.insert(frozen(conn, document.template_id).await?);
        }
    }
    let role_in = |document: &Document| -> Option<&Role> {
        loaded.get(&document.template_id)?.role(&signer.role_key)
    };
    let signed: HashSet<DocumentId> = evidence
        .into_iter()
        .filter(|e| e.signer_id == signer.id)
        .map(|e| e.document_id)
        .collect();
    let own: Vec<&Document> = documents.iter().filter(|d| role_in(d).is_some()).collect();
    let chosen: Vec<&Document> = match &input.documents {
        None => own
            .iter()
            .copied()
            .filter(|d| !signed.contains(&d.id))
            .collect(),
        Some(ids) => {
            let mut chosen = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let field = format!("documentIds[{i}]");
                let document = own.iter().find(|d| d.id == *id).ok_or_else(|| {
                    AppError::bad_input(&field, "not a document you sign on this task")
                })?;
                if signed.contains(id) {
                    return Err(AppError::Conflict(format!(
                        "document {id} is signed already"
                    )));
                }
                if !chosen.iter().any(|d: &&Document| d.id == *id) {
                    chosen.push(*document);
                }
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(AppError::bad_input(
            "documentIds",
            "no document left to sign",
        ));
    }
    for (i, placement) in input.placements.iter().enumerate() {
        if !chosen.iter().any(|d| d.id == placement.document) {
            return Err(AppError::bad_input(
                format!("placements[{i}].documentId"),
                "not a document signed in this call",
            ));
        }
        let twice = placement.slot.is_some()
            && input.placements[..i]
                .iter()
                .any(|p| p.document == placement.document && p.slot == placement.slot);
        if twice {
            return Err(AppError::bad_input(
                format!("placements[{i}].slotId"),
                "this slot is placed already",
            ));
        }
    }
    let date = date_text(svc.clock.now());
    let mut used: HashMap<SealId, Seal> = HashMap::new();
    let mut documents_plan = Vec::with_capacity(chosen.len());
    for document in &chosen {
        let Some(loaded) = loaded.get(&document.template_id) else {
            continue;
        };
        let role = role_in(document)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("role vanished")))?;
        let mut stamps_plan = Vec::new();
        for slot in loaded.layout.slots.iter().filter(|s| s.role_id == role.id) {
            let chosen_seal = input
                .placements
                .iter()
                .enumerate()
                .find(|(_, p)| p.document == document.id && p.slot == Some(slot.id));
            let size = slot_size(slot.seal_kind);
            let mut stamp = on_page(&loaded.template, slot.page, slot.x, slot.y, size)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a slot off its pages")))?;
            stamp.image = if slot.seal_kind == SealKind::Date {
                if let Some((i, _)) = chosen_seal {
                    return Err(AppError::bad_input(
                        format!("placements[{i}].slotId"),
                        "a date slot shows the signing date, not a seal",
                    ));
                }
                StampImage::Date { text: date.clone() }
            } else {
                let seal = match chosen_seal {
                    Some((i, placement)) => {
                        let seal =
                            seals
                                .iter()
                                .find(|s| s.id == placement.seal)
                                .ok_or_else(|| {
                                    AppError::bad_input(
                                        format!("placements[{i}].sealId"),
                                        "not a seal you may use here",
                                    )
                                })?;
                        if seal.kind != slot.seal_kind {
                            return Err(AppError::bad_input(
                                format!("placements[{i}].sealId"),
                                format!("the slot takes a {} seal", slot.seal_kind.as_str()),
                            ));
                        }
                        seal
                    }
                    None => default_seal(&seals, slot.seal_kind, slot.page)?,
                };
                used.insert(seal.id, seal.clone());
                StampImage::Seal {
                    seal: seal.id,
                    sha256: seal.image_sha256.clone(),
                }
            };
            stamps_plan.push(stamp);
        }
        for (i, placement) in input
            .placements
            .iter()
            .enumerate()
            .filter(|(_, p)| p.document == document.id)
        {
            match placement.slot {
                Some(slot) => {
                    if !loaded
                        .layout
                        .slots
                        .iter()
                        .any(|s| s.id == slot && s.role_id == role.id)
                    {
                        return Err(AppError::bad_input(
                            format!("placements[{i}].slotId"),
                            "not a slot of your role in this document",
                        ));
                    }
                }
                None => {
                    let stamp = free_placement(&loaded.template, &seals, placement, i)?;
                    if let StampImage::Seal { seal, .. } = &stamp.image
                        && let Some(found) = seals.iter().find(|s| s.id == *seal)
                    {
                        used.insert(found.id, found.clone());
                    }
                    stamps_plan.push(stamp);
                }
            }
        }
        let cross_page = match signer.cross_page_seal_id {
            Some(id) if loaded.template.page_widths.len() > 1 => {
                let seal = Seal::find(conn, id)
                    .await?
                    .filter(|s| s.status == SealStatus::Enabled)
                    .ok_or_else(|| {
                        AppError::Conflict(
                            "the cross-page seal the initiator chose is no longer enabled".into(),
                        )
                    })?;
                used.insert(seal.id, seal.clone());
                let size = slot_size(seal.kind).0;
                let first_height = loaded
                    .template
                    .page_heights
                    .first()
                    .copied()
                    .unwrap_or(842.0);
                Some(CrossPagePlan {
                    seal: seal.id,
                    sha256: seal.image_sha256.clone(),
                    pages: loaded
                        .template
                        .page_widths
                        .iter()
                        .copied()
                        .enumerate()
                        .collect(),
                    y: (first_height - size) / 2.0,
                    size,
                })
            }
            _ => None,
        };
        documents_plan.push(DocumentPlan {
            document: document.id,
            field_name: format!(
                "Signer{}-{}",
                signer.position,
                &AttemptId::new().to_string()[..8]
            ),
            stamps: stamps_plan,
            cross_page,
            texts: Vec::new(),
        });
    }
    for seal in used.values() {
        if !seals::verify_record(conn, svc, seal).await? {
            return Err(AppError::Conflict(format!(
                "the record of seal {} does not match its image: ask the administrator",
                seal.id
            )));
        }
    }
    let values = completed_values(
        conn,
        svc,
        Completing {
            task,
            signer,
            loaded: &loaded,
            chosen: &chosen,
            input,
        },
        &mut documents_plan,
    )
    .await?;
    let plan = SigningPlan {
        documents: documents_plan,
        values,
        certificate_serial: String::new(),
    };
    Ok((plan, read))
}

fn default_seal(seals: &[Seal], kind: SealKind, page: i32) -> AppResult<&Seal> {
    // The newest: a person's latest handwritten signature, say.
    seals.iter().rev().find(|s| s.kind == kind).ok_or_else(|| {
        AppError::Conflict(format!(
            "you hold no usable {} seal for the slot on page {page}",
            kind.as_str()
        ))
    })
}

fn free_placement(
    template: &Template,
    seals: &[Seal],
    placement: &PlacementInput,
    i: usize,
) -> AppResult<StampPlan> {
    let field = |name: &str| format!("placements[{i}].{name}");
    let seal = seals
        .iter()
        .find(|s| s.id == placement.seal)
        .ok_or_else(|| AppError::bad_input(field("sealId"), "not a seal you may use here"))?;
    if seal.kind == SealKind::Date {
        return Err(AppError::bad_input(
            field("sealId"),
            "date seals go on date slots",
        ));
    }
    let (Some(page), Some(x), Some(y)) = (placement.page, placement.x, placement.y) else {
        return Err(AppError::bad_input(
            field("page"),
            "a placement without a slot needs page, x and y",
        ));
    };
    let size = slot_size(seal.kind);
    let (x, y) = (x as f32, y as f32);
    let index = usize::try_from(page - 1).ok();
    let fits = index
        .and_then(|p| {
            Some((
                *template.page_widths.get(p)?,
                *template.page_heights.get(p)?,
            ))
        })
        .is_some_and(|(w, h)| {
            x.is_finite()
                && y.is_finite()
                && x >= 0.0
                && y >= 0.0
                && x + size.0 <= w + EDGE
                && y + size.1 <= h + EDGE
        });
    if !fits {
        return Err(AppError::bad_input(
            field("x"),
            format!(
                "the seal ({} x {} pt) must lie inside page {page}",
                size.0, size.1
            ),
        ));
    }
    let mut stamp = on_page(template, page, x, y, size)
        .ok_or_else(|| AppError::bad_input(field("page"), "no such page"))?;
    stamp.image = StampImage::Seal {
        seal: seal.id,
        sha256: seal.image_sha256.clone(),
    };
    Ok(stamp)
}

struct Completing<'a> {
    task: &'a Task,
    signer: &'a Signer,
    loaded: &'a HashMap<TemplateId, Arc<Loaded>>,
    chosen: &'a [&'a Document],
    input: &'a SignInput,
}

/// The fields of `template` the signer fills: those the template leaves
/// to its role, and those the initiator left to the person signer.
fn fills<'a>(
    at: &Completing<'a>,
    template: TemplateId,
    definitions: &'a HashMap<FieldId, FieldDefinition>,
) -> Vec<(&'a TemplateField, &'a FieldDefinition)> {
    let Some(loaded) = at.loaded.get(&template) else {
        return Vec::new();
    };
    let role = loaded.role(&at.signer.role_key).map(|r| r.id);
    loaded
        .layout
        .fields
        .iter()
        .filter_map(|field| {
            let definition = definitions.get(&field.field_id)?;
            let by_role = field.filled_by_role_id.is_some() && field.filled_by_role_id == role;
            let left_to_person = at.signer.kind == PartyKind::Person
                && role.is_some()
                && at
                    .task
                    .signer_completed_field_keys
                    .contains(&definition.key);
            (by_role || left_to_person).then_some((field, definition))
        })
        .collect()
}

/// Checks `fieldValues` and lays the signer's values out in the boxes of
/// the documents signed now; the values given (stored form).
async fn completed_values(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    at: Completing<'_>,
    documents_plan: &mut [DocumentPlan],
) -> AppResult<BTreeMap<String, String>> {
    // Most signers fill nothing: then the field catalogue is not read.
    let may_fill = at.loaded.values().any(|loaded| {
        let role = loaded.role(&at.signer.role_key).map(|r| r.id);
        role.is_some()
            && (loaded
                .layout
                .fields
                .iter()
                .any(|f| f.filled_by_role_id.is_some() && f.filled_by_role_id == role)
                || (at.signer.kind == PartyKind::Person
                    && !at.task.signer_completed_field_keys.is_empty()))
    });
    let definitions: HashMap<FieldId, FieldDefinition> = if may_fill {
        FieldDefinition::catalogue_and_custom(conn, &[at.task.enterprise_id])
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect()
    } else {
        HashMap::new()
    };
    let stored: BTreeMap<String, String> = serde_json::from_slice(
        &svc.keys
            .open(&at.task.values_enc, VALUES_CONTEXT)
            .map_err(AppError::internal)?,
    )
    .map_err(AppError::internal)?;
    let given = match &at.input.field_values {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(AppError::bad_input(
                "fieldValues",
                "an object of field keys to values",
            ));
        }
    };
    let mine: Vec<(&TemplateField, &FieldDefinition)> = at
        .loaded
        .keys()
        .flat_map(|template| fills(&at, *template, &definitions))
        .collect();
    let mut values = BTreeMap::new();
    for (key, raw) in &given {
        let path = format!("fieldValues.{key}");
        let Some((_, definition)) = mine.iter().find(|(_, d)| d.key == *key) else {
            return Err(AppError::bad_input(&path, "you do not fill this field"));
        };
        let cell: Option<Cell> = Cell::from_json(raw).map_err(|m| AppError::bad_input(&path, m))?;
        let Some(cell) = cell else { continue };
        let Some(value) =
            normalize(definition.field_type, &cell).map_err(|m| AppError::bad_input(&path, m))?
        else {
            continue;
        };
        if stored.get(key).is_some_and(|earlier| *earlier != value) {
            return Err(AppError::bad_input(
                &path,
                "this value was completed in a document you signed already",
            ));
        }
        values.insert(key.clone(), value);
    }
    let fonts = Fonts::new().map_err(AppError::internal)?;
    for plan in documents_plan.iter_mut() {
        let Some(document) = at.chosen.iter().find(|d| d.id == plan.document) else {
            continue;
        };
        let Some(loaded) = at.loaded.get(&document.template_id) else {
            continue;
        };
        for (field, definition) in fills(&at, document.template_id, &definitions) {
            let path = format!("fieldValues.{}", definition.key);
            let Some(value) = values.get(&definition.key).or(stored.get(&definition.key)) else {
                if field.required {
                    return Err(AppError::bad_input(
                        &path,
                        format!("{} is required", definition.label),
                    ));
                }
                continue;
            };
            for text in field_texts(&loaded.template, &loaded.layout, field, definition, value)? {
                check_fits(&fonts, &text.borrowed()).map_err(|e| AppError::bad_input(&path, e))?;
                plan.texts.push(text);
            }
        }
    }
    Ok(values)
}
