"""The use cases of the service: intake by the citizen, processing by the agency, the SLA clock.

Each function takes its collaborators by keyword and changes nothing but through them; the
caller commits (one transaction per request or message).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from application.domain import access
from application.domain.codes import new_tracking_code, registration_number
from application.domain.exceptions import (
    ApplicationNotFound,
    AssuranceLevelTooLow,
    ConcurrentChange,
    DocumentNotFound,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    ServiceNotFound,
    ServiceNotOnline,
    ServiceRetired,
    SubmissionIncomplete,
)
from application.domain.forms import check_form_size, get_path, set_path
from application.domain.lifecycle import (
    AGENCY_ACTIONS,
    CLOCK_RUNNING,
    DECIDED,
    EDITABLE,
    Action,
    Status,
    next_stage,
    transition,
)
from application.domain.models import (
    Actor,
    Application,
    ApplicationView,
    Document,
    Note,
    ServiceVersionCopy,
)
from application.domain.ports import (
    ApplicationEvents,
    ApplicationRepository,
    DueDates,
    IdentityDirectory,
    QueueFilter,
    Slice,
)
from mpp_shared.auth.principal import Principal
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.contracts.catalog.v1 import Requirement
from mpp_shared.forms import FormValidator

PREFILL_PURPOSE = "Pengisian otomatis formulir permohonan layanan"
NOTE_REQUIRED: frozenset[Action] = frozenset({Action.REQUEST_REVISION, Action.REJECT})
MAX_NOTE_LENGTH = 2000

ValidatorFor = Callable[[ServiceVersionCopy], FormValidator]


# ---- intake ------------------------------------------------------------------------------------


async def create_application(
    *,
    repo: ApplicationRepository,
    identity: IdentityDirectory,
    principal: Principal,
    service_id: uuid.UUID,
    prefill_consent: bool,
    now: datetime,
) -> ApplicationView:
    """A draft against the service's latest published version, prefilled with consent."""
    owner = access.require_citizen(principal)
    version = await repo.service_version(service_id)
    if version is None:
        raise ServiceNotFound()
    if version.retired:
        raise ServiceRetired()
    if "online" not in version.published.channels:
        raise ServiceNotOnline()
    required = version.published.min_assurance_level
    if principal.assurance_level < required:
        raise AssuranceLevelTooLow(required=required, actual=principal.assurance_level)
    form: dict[str, Any] = {}
    prefill = version.published.prefill
    if prefill_consent and prefill:
        profile_fields = sorted(set(prefill.values()))
        values = await identity.grant_consent_and_prefill(
            account_id=owner, service_id=service_id, fields=profile_fields, purpose=PREFILL_PURPOSE
        )
        # Exactly the form fields the service names, nothing else the answer may carry.
        for form_path, profile_field in sorted(prefill.items()):
            value = get_path(values, profile_field)
            if value is not None:
                set_path(form, form_path, value)
    application = Application(
        id=uuid.uuid4(),
        owner_account_id=owner,
        service_id=service_id,
        service_version=version.version,
        agency_id=version.published.agency_id,
        status=Status.DRAFT,
        form_data=form,
        created_at=now,
        updated_at=now,
    )
    await repo.add(application)
    return ApplicationView(application=application, owner_view=True)


async def read_application(
    *, repo: ApplicationRepository, principal: Principal, application_id: uuid.UUID
) -> ApplicationView:
    application = await _visible(repo, principal, application_id)
    owner = access.is_owner(principal, application)
    return ApplicationView(
        application=application,
        documents=await repo.documents(application.id),
        notes=await repo.notes(application.id, internal=not owner),
        owner_view=owner,
    )


async def list_own_applications(
    *,
    repo: ApplicationRepository,
    principal: Principal,
    limit: int,
    after: Mapping[str, Any] | None,
) -> Slice:
    owner = access.require_citizen(principal)
    return await repo.list_owned(owner, limit=limit, after=after)


async def update_form(
    *,
    repo: ApplicationRepository,
    principal: Principal,
    application_id: uuid.UUID,
    form_data: dict[str, Any],
    now: datetime,
) -> ApplicationView:
    """The owner replaces the whole form while the application is editable."""
    application = await _owned(repo, principal, application_id)
    _require_editable(application, "update_form")
    check_form_size(form_data)
    expected = application.version
    application.form_data = form_data
    application.updated_at = now
    await repo.save(application, expected_version=expected)
    # The owner's view of what was just saved: no second read of the application itself.
    return ApplicationView(
        application=application,
        documents=await repo.documents(application.id),
        notes=await repo.notes(application.id, internal=False),
        owner_view=True,
    )


async def requirement_for_upload(
    *,
    repo: ApplicationRepository,
    principal: Principal,
    application_id: uuid.UUID,
    requirement_code: str,
) -> tuple[Application, Requirement]:
    """What an upload must satisfy; checked before a byte of the file is read."""
    application = await _owned(repo, principal, application_id)
    _require_editable(application, "upload_document")
    version = await _version_of(repo, application)
    requirement = version.requirement(requirement_code)
    if requirement is None:
        known = ", ".join(r.code for r in version.published.requirements) or "-"
        raise InvalidInput(
            f"Persyaratan '{requirement_code}' tidak ada pada layanan ini (yang ada: {known}).",
            errors=[{"loc": ["body", "requirement_code"], "msg": "unknown requirement"}],
        )
    return application, requirement


async def attach_document(
    *,
    repo: ApplicationRepository,
    application: Application,
    document: Document,
    now: datetime,
) -> Document | None:
    """Record an uploaded document; the one it replaces is returned (its blob goes after commit)."""
    expected = application.version
    application.updated_at = now
    # A concurrent submit must not miss (or race) a document: the upload bumps the version too.
    return await repo.attach_input_document(application, document, expected_version=expected)


async def submit_application(
    *,
    repo: ApplicationRepository,
    events: ApplicationEvents,
    due_dates: DueDates,
    validator_for: ValidatorFor,
    principal: Principal,
    application_id: uuid.UUID,
    now: datetime,
) -> Application:
    """Validate everything at once, number the application, start (or resume) the SLA clock."""
    application = await _owned(repo, principal, application_id)
    old_status = application.status
    new_status = transition(old_status, Action.SUBMIT)
    version = await _version_of(repo, application)
    problems = [
        problem.as_error("form_data")
        for problem in validator_for(version).errors(application.form_data)
    ]
    present = {
        d.requirement_code for d in await repo.documents(application.id) if d.kind == "input"
    }
    for requirement in version.published.requirements:
        if requirement.mandatory and requirement.code not in present:
            problems.append(
                {
                    "loc": ["documents", requirement.code],
                    "msg": f"Dokumen wajib '{requirement.name}' belum diunggah.",
                    "code": "document_missing",
                }
            )
    if problems:
        raise SubmissionIncomplete(problems)
    timezone = version.published.agency_timezone
    expected = application.version
    if old_status is Status.DRAFT:
        year = now.astimezone(ZoneInfo(timezone)).year
        serial = await repo.next_registration_serial(
            region_code=version.published.agency_region_code, year=year
        )
        application.registration_number = registration_number(
            region_code=version.published.agency_region_code, year=year, serial=serial
        )
        application.tracking_code = new_tracking_code()
        application.submitted_at = now
        application.due_at = due_dates.due_at(
            submitted_at=now, working_days=version.published.sla_working_days, timezone=timezone
        )
    else:
        assert application.due_at is not None
        paused_from = application.revision_requested_at or now
        application.due_at = due_dates.extend(
            due_at=application.due_at, paused_from=paused_from, resumed_at=now, timezone=timezone
        )
        application.revision_requested_at = None
        # The due time moved ahead again: when it passes, that is news once more. One that
        # already passed and still has (announced before the pause) is not announced twice.
        if application.due_at > now:
            application.overdue_notified_at = None
    application.status = new_status
    application.updated_at = now
    await _publish(
        events,
        application,
        version,
        contract.APPLICATION_SUBMITTED,
        contract.ApplicationSubmitted,
        old_status=old_status,
        actor=access.actor_of(principal),
        now=now,
    )
    await repo.save(application, expected_version=expected)
    return application


async def withdraw_application(
    *,
    repo: ApplicationRepository,
    events: ApplicationEvents,
    principal: Principal,
    application_id: uuid.UUID,
    now: datetime,
) -> Application:
    application = await _owned(repo, principal, application_id)
    old_status = application.status
    application.status = transition(old_status, Action.WITHDRAW)
    version = await _version_of(repo, application)
    expected = application.version
    application.decided_at = now
    application.updated_at = now
    await _publish(
        events,
        application,
        version,
        contract.APPLICATION_WITHDRAWN,
        contract.ApplicationWithdrawn,
        old_status=old_status,
        actor=access.actor_of(principal),
        now=now,
    )
    await repo.save(application, expected_version=expected)
    return application


# ---- processing --------------------------------------------------------------------------------


async def list_agency_queue(
    *,
    repo: ApplicationRepository,
    principal: Principal,
    where: Mapping[str, Any],
    now: datetime,
    limit: int,
    after: Mapping[str, Any] | None,
) -> Slice:
    agency = access.reading_agency(principal)
    if agency is None:
        raise NotPermitted(
            "Antrean permohonan hanya untuk petugas dan admin instansi, atau sistem instansi "
            f"dengan cakupan '{access.READ_SCOPE}' atau '{access.PROCESS_SCOPE}'."
        )
    return await repo.list_queue(
        QueueFilter(agency_id=agency, **where), now=now, limit=limit, after=after
    )


async def act_on_application(
    *,
    repo: ApplicationRepository,
    events: ApplicationEvents,
    principal: Principal,
    application_id: uuid.UUID,
    action: Action,
    note: str | None,
    internal_note: str | None,
    stage: str | None,
    expected_version: int | None,
    output: Document | None,
    now: datetime,
) -> ApplicationView:
    """One agency action on the lifecycle; exactly one event; nothing changes when refused."""
    agency = access.processing_agency(principal)
    if action not in AGENCY_ACTIONS:
        raise InvalidInput(
            f"Tindakan '{action.value}' bukan tindakan instansi.",
            errors=[{"loc": ["body", "action"], "msg": "not an agency action"}],
        )
    application = await repo.get(application_id)
    if application is None or application.agency_id != agency or application.status is Status.DRAFT:
        raise ApplicationNotFound()
    if expected_version is not None and expected_version != application.version:
        raise ConcurrentChange()
    note = _clean(note)
    internal_note = _clean(internal_note)
    if action in NOTE_REQUIRED and note is None:
        raise InvalidInput(
            "Catatan wajib diisi: alasan penolakan atau hal yang perlu diperbaiki.",
            errors=[{"loc": ["body", "note"], "msg": "required for this action"}],
        )
    if output is not None and action is not Action.COMPLETE:
        raise InvalidInput(
            "Dokumen hasil hanya dapat dilampirkan pada tindakan 'complete'.",
            errors=[{"loc": ["body", "file"], "msg": "only with complete"}],
        )
    old_status = application.status
    application.status = transition(old_status, action)
    version = await _version_of(repo, application)
    if action is Action.START_REVIEW:
        application.stage = version.stages[0].code if version.stages else None
    elif action is Action.ADVANCE_STAGE:
        if not version.stages:
            raise IllegalTransition(
                status=old_status.value,
                action=action.value,
                detail="Layanan ini tidak memiliki tahapan.",
            )
        application.stage = next_stage(version.stages, application.stage, stage).code
    elif stage is not None:
        raise InvalidInput(
            "Tahap hanya dapat diberikan pada tindakan 'advance_stage'.",
            errors=[{"loc": ["body", "stage"], "msg": "only with advance_stage"}],
        )
    if action is Action.REQUEST_REVISION:
        application.revision_requested_at = now
    if application.status in DECIDED and application.decided_at is None:
        application.decided_at = now
    expected = application.version
    application.updated_at = now
    actor = access.actor_of(principal)
    if action is Action.REQUEST_REVISION:
        await _publish(
            events, application, version, contract.APPLICATION_REVISION_REQUESTED,
            contract.ApplicationRevisionRequested, old_status=old_status, actor=actor, now=now,
            note=note, internal_note=internal_note,
        )  # fmt: skip
    elif action is Action.COMPLETE:
        await _publish(
            events, application, version, contract.APPLICATION_COMPLETED,
            contract.ApplicationCompleted, old_status=old_status, actor=actor, now=now,
            note=note, internal_note=internal_note, output_document=output is not None,
        )  # fmt: skip
    else:
        await _publish(
            events, application, version, contract.APPLICATION_STATUS_CHANGED,
            contract.ApplicationStatusChanged, old_status=old_status, actor=actor, now=now,
            note=note, internal_note=internal_note,
        )  # fmt: skip
    await repo.save(application, expected_version=expected)
    for text, visibility in ((note, "public"), (internal_note, "internal")):
        if text is not None:
            await repo.add_note(
                Note(
                    id=uuid.uuid4(),
                    application_id=application.id,
                    visibility=visibility,  # type: ignore[arg-type]
                    action=action.value,
                    text=text,
                    actor_kind=actor.kind,
                    created_at=now,
                )
            )
    if output is not None:
        await repo.put_document(output)
    return ApplicationView(
        application=application,
        documents=await repo.documents(application.id),
        notes=await repo.notes(application.id, internal=True),
    )


async def check_output_allowed(
    *, repo: ApplicationRepository, principal: Principal, application_id: uuid.UUID
) -> Application:
    """Before an output document is stored: the caller may complete this application."""
    agency = access.processing_agency(principal)
    application = await repo.get(application_id)
    if application is None or application.agency_id != agency or application.status is Status.DRAFT:
        raise ApplicationNotFound()
    transition(application.status, Action.COMPLETE)
    return application


# ---- documents ----------------------------------------------------------------------------------


async def readable_document(
    *,
    repo: ApplicationRepository,
    principal: Principal,
    application_id: uuid.UUID,
    document_id: uuid.UUID,
) -> Document:
    application = await _visible(repo, principal, application_id)
    document = await repo.document(application.id, document_id)
    if document is None:
        raise DocumentNotFound()
    return document


# ---- the SLA clock ------------------------------------------------------------------------------


def is_overdue(application: Application, now: datetime) -> bool:
    """The due time passed while the clock runs; never while paused for a revision."""
    return (
        application.due_at is not None
        and application.due_at < now
        and application.status in CLOCK_RUNNING
    )


async def announce_overdue(
    *,
    repo: ApplicationRepository,
    events: ApplicationEvents,
    application: Application,
    now: datetime,
) -> None:
    """The one ``overdue`` event of an application whose due time passed (caller holds the row)."""
    if not is_overdue(application, now) or application.overdue_notified_at is not None:
        return
    version = await _version_of(repo, application)
    expected = application.version
    application.overdue_notified_at = now
    await _publish(
        events,
        application,
        version,
        contract.APPLICATION_OVERDUE,
        contract.ApplicationOverdue,
        old_status=application.status,
        actor=Actor(kind="system", id=None),
        now=now,
    )
    await repo.save(application, expected_version=expected)


# ---- helpers -----------------------------------------------------------------------------------


async def _visible(
    repo: ApplicationRepository, principal: Principal, application_id: uuid.UUID
) -> Application:
    application = await repo.get(application_id)
    if application is None or not access.may_read(principal, application):
        raise ApplicationNotFound()
    return application


async def _owned(
    repo: ApplicationRepository, principal: Principal, application_id: uuid.UUID
) -> Application:
    if access.counter_agency(principal) is not None:
        # Staff filing at a counter stand in for the resident; nobody else of the agency does.
        found = await repo.get(application_id)
        if found is not None and access.files_at_counter(principal, found):
            return found
    access.require_citizen(principal)
    application = await repo.get(application_id)
    if application is None or not access.is_owner(principal, application):
        raise ApplicationNotFound()
    return application


async def _version_of(repo: ApplicationRepository, application: Application) -> ServiceVersionCopy:
    version = await repo.published_version(application.service_id, application.service_version)
    if version is None:  # the read copy keeps every version an application was made against
        raise ServiceNotFound()
    return version


def _require_editable(application: Application, action: str) -> None:
    if application.status not in EDITABLE:
        raise IllegalTransition(
            status=application.status.value,
            action=action,
            detail="Permohonan hanya dapat diubah selama berstatus 'draft' atau "
            "'revision_requested'.",
        )


def _clean(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return text.strip()


async def _publish(
    events: ApplicationEvents,
    application: Application,
    version: ServiceVersionCopy,
    event_type: str,
    model: type[contract.ApplicationEvent],
    *,
    old_status: Status,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    internal_note: str | None = None,
    **extra: Any,
) -> None:
    """Exactly one event per change, its sequence taken with the change itself."""
    assert application.registration_number is not None
    assert application.tracking_code is not None
    assert application.submitted_at is not None
    application.event_sequence += 1
    payload = model(
        application_id=application.id,
        sequence=application.event_sequence,
        service_id=application.service_id,
        service_version=application.service_version,
        service_name=version.published.name,
        agency_id=application.agency_id,
        owner_account_id=application.owner_account_id,
        registration_number=application.registration_number,
        tracking_code_hash=contract.tracking_code_hash(
            application.registration_number, application.tracking_code
        ),
        channel=application.channel,
        old_status=old_status.value,
        status=application.status.value,
        stage=application.stage,
        stage_name=version.stage_name(application.stage),
        actor_kind=actor.kind,
        actor_id=actor.id,
        note=note,
        internal_note=internal_note,
        submitted_at=application.submitted_at,
        due_at=application.due_at,
        occurred_at=now,
        **extra,
    )
    await events.record(event_type, payload)
