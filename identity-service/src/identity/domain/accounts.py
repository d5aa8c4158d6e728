"""Accounts: citizen registration against the registry, login, profile, face check, staff, TOTP."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from identity.domain import throttle as throttling
from identity.domain.crypto import DecryptionFailed, SecretBox, sha256_hex
from identity.domain.exceptions import (
    AccountDisabled,
    AlreadyRegistered,
    EmailInUse,
    InvalidCredentials,
    InvalidInput,
    InvalidOtp,
    MfaAlreadyEnabled,
    MfaNotStarted,
    MfaRequired,
    NotAllowed,
    NotFound,
    RateLimited,
    RegistryMismatch,
    Throttled,
    UnknownAgency,
)
from identity.domain.models import Account
from identity.domain.passwords import PasswordHasher
from identity.domain.ports import (
    AccountRepository,
    AgencyRepository,
    EventRecorder,
    ThrottleRepository,
    TokenRepository,
)
from identity.domain.profile import citizen_profile
from identity.domain.revocation import record_access_revoked
from identity.domain.throttle import AttemptPolicy, DelayPolicy, FailurePolicy
from identity.domain.totp import matching_step, new_secret, provisioning_uri
from identity.dukcapil.registry import SESUAI, PopulationRegistry
from mpp_shared.auth import MFA_ENROLL_SCOPE, Role
from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events import new_event

log = logging.getLogger(__name__)

# Who the identity service is in the registry's quota books.
REGISTRY_CALLER = "mpp-identity"

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
_NIK_USERNAME = re.compile(r"^\d{16}$")


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def normalise_phone(phone: str) -> str:
    """Indonesian mobile numbers as +628…: accepts 08…, 628… and +628…, spaces and dashes."""
    digits = re.sub(r"[\s\-()]", "", phone.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.isdigit() or not digits.startswith("628") or not 10 <= len(digits) <= 15:
        raise ValueError("not an Indonesian mobile number (08… or +628…)")
    return "+" + digits


def normalise_name(name: str) -> str:
    """The registry writes names in capitals with single spaces, as on the KTP."""
    return " ".join(name.split()).upper()


def check_password_policy(
    password: str, *, min_length: int, personal: tuple[str, ...] = ()
) -> None:
    if len(password) < min_length:
        raise InvalidInput(f"Kata sandi minimal {min_length} karakter.", loc=["body", "password"])
    if len(password) > 256:
        raise InvalidInput("Kata sandi terlalu panjang.", loc=["body", "password"])
    lowered = password.lower()
    # Short fragments (an email's "a@…") would forbid half the alphabet.
    if any(len(item) >= 4 and item.lower() in lowered for item in personal):
        raise InvalidInput(
            "Kata sandi tidak boleh memuat NIK atau email.", loc=["body", "password"]
        )


async def _count_attempt(
    throttle: ThrottleRepository, key: str, policy: AttemptPolicy, now: datetime
) -> None:
    counter = await throttle.count(key, window=policy.window, now=now)
    if counter.count > policy.limit:
        raise RateLimited(
            retry_after=throttling.seconds_until(counter.window_started_at + policy.window, now)
        )


# --- citizens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    nik: str
    full_name: str
    birth_date: date
    email: str
    phone: str
    password: str


@dataclass(frozen=True, slots=True)
class RegistrationLimits:
    per_nik: AttemptPolicy
    per_ip: AttemptPolicy
    password_min_length: int


async def register_citizen(
    *,
    registration: Registration,
    client_ip: str,
    limits: RegistrationLimits,
    accounts: AccountRepository,
    throttle: ThrottleRepository,
    registry: PopulationRegistry,
    hasher: PasswordHasher,
    events: EventRecorder,
    now: datetime,
    resident_link_secret: str | None = None,
) -> Account:
    """Create a citizen account once the registry confirms NIK, name and birth date.

    With ``resident_link_secret`` the event carries the NIK's keyed hash, by which applications
    an officer filed for this resident at a counter find their owner (never the NIK itself).

    Every attempt counts against the caller's IP and the NIK (commit the counters even when
    this raises), so that the endpoint cannot be used to probe the registry.
    """
    await _count_attempt(throttle, f"register:ip:{client_ip}", limits.per_ip, now)
    await _count_attempt(
        throttle, f"register:nik:{sha256_hex(registration.nik)}", limits.per_nik, now
    )
    check_password_policy(
        registration.password,
        min_length=limits.password_min_length,
        personal=(registration.nik, registration.email.split("@")[0]),
    )
    checks = await registry.verify(
        registration.nik,
        {
            "full_name": normalise_name(registration.full_name),
            "birth_date": registration.birth_date.isoformat(),
        },
        caller=REGISTRY_CALLER,
    )
    if not checks or any(answer != SESUAI for answer in checks.values()):
        raise RegistryMismatch()
    resident = await registry.lookup(registration.nik, caller=REGISTRY_CALLER)
    if resident is None:
        raise RegistryMismatch()
    # Only now, to someone who knows NIK, name and birth date, may we say it is taken.
    if await accounts.nik_registered(registration.nik):
        raise AlreadyRegistered()
    if await accounts.email_taken(registration.email):
        raise EmailInUse()
    account = Account(
        id=uuid.uuid4(),
        role=Role.CITIZEN,
        email=registration.email,
        full_name=resident.full_name,
        password_hash=await hasher.hash(registration.password),
        phone=registration.phone,
        assurance_level=1,
        profile=citizen_profile(resident),
    )
    await accounts.add(account)
    await events.record(
        new_event(
            type=contracts.CITIZEN_REGISTERED,
            source=contracts.SOURCE,
            subject=str(account.id),
            data=contracts.CitizenRegistered(
                account_id=account.id,
                assurance_level=1,
                registered_at=now,
                resident_key=(
                    contracts.resident_key(registration.nik, resident_link_secret)
                    if resident_link_secret
                    else None
                ),
            ),
        )
    )
    return account


async def update_contact(
    *,
    account: Account,
    email: str | None,
    phone: str | None,
    phone_given: bool,
    accounts: AccountRepository,
) -> Account:
    new_email = email if email is not None else account.email
    new_phone = phone if phone_given else account.phone
    if new_email != account.email and await accounts.email_taken(new_email, except_id=account.id):
        raise EmailInUse()
    await accounts.update_contact(account.id, email=new_email, phone=new_phone)
    updated = await accounts.get(account.id)
    assert updated is not None
    return updated


@dataclass(frozen=True, slots=True)
class FaceResult:
    matched: bool
    score: float
    assurance_level: int


async def verify_face(
    *,
    account: Account,
    selfie: bytes,
    attempts: AttemptPolicy,
    accounts: AccountRepository,
    throttle: ThrottleRepository,
    registry: PopulationRegistry,
    events: EventRecorder,
    now: datetime,
) -> FaceResult:
    """Compare a selfie with the registry's photo; a match raises the assurance level to 2."""
    if not account.is_citizen or account.profile is None:
        raise NotAllowed("Only citizens verify their face.")
    await _count_attempt(throttle, f"face:{account.id}", attempts, now)
    comparison = await registry.compare_face(account.profile.nik, selfie, caller=REGISTRY_CALLER)
    level = account.assurance_level
    if comparison.matched and level < 2 and await accounts.raise_assurance_level(account.id, 2):
        level = 2
        await events.record(
            new_event(
                type=contracts.CITIZEN_VERIFIED,
                source=contracts.SOURCE,
                subject=str(account.id),
                data=contracts.CitizenVerified(
                    account_id=account.id, assurance_level=2, method="face", verified_at=now
                ),
            )
        )
    return FaceResult(matched=comparison.matched, score=comparison.score, assurance_level=level)


# --- login -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginPolicies:
    """How failed logins are throttled; the rule is described at ``authenticate``."""

    per_pair: FailurePolicy
    per_ip: FailurePolicy
    per_account: DelayPolicy


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    # A member of staff without TOTP yet: the tokens are only good for enrolling.
    enrolment_only: bool

    @property
    def scope_override(self) -> tuple[str, ...] | None:
        return (MFA_ENROLL_SCOPE,) if self.enrolment_only else None


async def _check_not_blocked(
    throttle: ThrottleRepository, key: str, policy: FailurePolicy, now: datetime
) -> None:
    counter = await throttle.get(key)
    if counter is not None and counter.blocked_until is not None and counter.blocked_until > now:
        raise Throttled(
            retry_after=throttling.seconds_until(counter.blocked_until, now),
            locked=policy.is_lockout(counter.count),
        )


async def _record_failure(
    throttle: ThrottleRepository, key: str, policy: FailurePolicy, now: datetime
) -> None:
    counter = await throttle.count(key, window=policy.window, now=now)
    until = policy.blocked_until(failures=counter.count, now=now)
    if until is not None:
        await throttle.block(key, until=until)


async def _wait_turn(
    throttle: ThrottleRepository,
    *,
    account_key: str,
    turn_key: str,
    policy: DelayPolicy,
    now: datetime,
) -> None:
    """While an account collects failures from many addresses, each address must wait
    before each attempt: the first attempt only books a turn and answers 429 with the wait,
    the next one after the wait is heard (and uses up the turn)."""
    failures = await throttle.get(account_key)
    if failures is None or failures.window_started_at <= now - policy.window:
        return
    delay = policy.delay(failures.count)
    if delay is None:
        return
    turn = await throttle.get(turn_key)
    if turn is not None and turn.blocked_until is not None:
        if turn.blocked_until > now:
            raise Throttled(
                retry_after=throttling.seconds_until(turn.blocked_until, now), locked=False
            )
        await throttle.reset(turn_key)
        return
    await throttle.count(turn_key, window=policy.window, now=now)
    await throttle.block(turn_key, until=now + delay)
    raise Throttled(retry_after=throttling.seconds_until(now + delay, now), locked=False)


async def authenticate(
    *,
    username: str,
    password: str,
    otp: str | None,
    client_ip: str,
    policies: LoginPolicies,
    accounts: AccountRepository,
    throttle: ThrottleRepository,
    hasher: PasswordHasher,
    totp_box: SecretBox,
    now: datetime,
) -> LoginResult:
    """Check a username (email or NIK), password and, for staff, a TOTP code.

    Failures (a wrong password, an unknown username, a wrong TOTP code) are counted three
    ways, and committed although this raises:

    - per account and address: past ``per_pair.slow_after`` each attempt from that address
      waits longer, and at ``per_pair.lock_after`` that address is locked out of that account
      for a while (429 ``account_locked``). Nobody else is.
    - per address: past ``per_ip`` thresholds the address waits, then is locked, for every
      account (one source guessing at many accounts).
    - per account, from every address: past ``per_account.slow_after`` every address must
      wait its turn before each attempt (429 ``too_many_attempts`` with ``Retry-After``, at
      most ``per_account.max_delay``), then is heard. A stranger can slow an account down
      this way but never lock it: its owner, from an address of their own, waits once and
      logs in with the right password (and, for staff, the second factor).
    """
    name = username.strip()
    if not _NIK_USERNAME.match(name):
        name = name.lower()
    account_hash = sha256_hex(name)
    account_key = f"login:account:{account_hash}"
    pair_key = f"login:pair:{account_hash}:{client_ip}"
    turn_key = f"login:turn:{account_hash}:{client_ip}"
    ip_key = f"login:ip:{client_ip}"
    await _check_not_blocked(throttle, pair_key, policies.per_pair, now)
    await _check_not_blocked(throttle, ip_key, policies.per_ip, now)
    await _wait_turn(
        throttle, account_key=account_key, turn_key=turn_key, policy=policies.per_account, now=now
    )

    async def failed() -> None:
        await _record_failure(throttle, pair_key, policies.per_pair, now)
        await _record_failure(throttle, ip_key, policies.per_ip, now)
        await throttle.count(account_key, window=policies.per_account.window, now=now)

    account = await (
        accounts.by_nik(name) if _NIK_USERNAME.match(name) else accounts.by_email(name)
    )
    valid = await hasher.verify(account.password_hash if account else None, password)
    if account is None or not valid or account.disabled:
        await failed()
        raise InvalidCredentials()

    enrolment_only = False
    if account.is_staff:
        if not account.totp_enabled:
            enrolment_only = True
        elif not otp:
            raise MfaRequired()
        elif not await _accept_otp(account, otp, accounts=accounts, box=totp_box, now=now):
            await failed()
            raise InvalidOtp()

    # The account's count stays: it is a stranger's doing, and runs out with its window.
    await throttle.reset(pair_key)
    if hasher.needs_rehash(account.password_hash):
        await accounts.set_password_hash(account.id, await hasher.hash(password))
    return LoginResult(account=account, enrolment_only=enrolment_only)


async def _accept_otp(
    account: Account, otp: str, *, accounts: AccountRepository, box: SecretBox, now: datetime
) -> bool:
    state = await accounts.totp_state(account.id)
    if state.secret is None:
        return False
    try:
        secret = box.open(state.secret, context=str(account.id)).decode()
    except DecryptionFailed:
        log.error("TOTP secret cannot be decrypted", extra={"account_id": str(account.id)})
        return False
    step = matching_step(secret, otp, now=now.timestamp())
    return step is not None and await accounts.claim_totp_step(account.id, step)


# --- TOTP enrolment ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str


async def start_totp_enrolment(
    *, account: Account, accounts: AccountRepository, box: SecretBox
) -> TotpEnrolment:
    if not account.is_staff:
        raise NotAllowed("Only staff accounts use TOTP.")
    if account.totp_enabled:
        raise MfaAlreadyEnabled()
    secret = new_secret()
    await accounts.set_pending_totp(account.id, box.seal(secret.encode(), context=str(account.id)))
    return TotpEnrolment(
        secret=secret, otpauth_uri=provisioning_uri(secret, account_name=account.email)
    )


async def confirm_totp_enrolment(
    *,
    account: Account,
    otp: str,
    accounts: AccountRepository,
    tokens: TokenRepository,
    box: SecretBox,
    now: datetime,
) -> None:
    if not account.is_staff:
        raise NotAllowed("Only staff accounts use TOTP.")
    if account.totp_enabled:
        raise MfaAlreadyEnabled()
    state = await accounts.totp_state(account.id)
    if state.pending_secret is None:
        raise MfaNotStarted()
    secret = box.open(state.pending_secret, context=str(account.id)).decode()
    step = matching_step(secret, otp, now=now.timestamp())
    if step is None:
        raise InvalidOtp()
    await accounts.enable_totp(account.id, sealed=state.pending_secret, step=step)
    # Sessions that could only enrol have served their purpose.
    await tokens.revoke_families(account.id, scope=MFA_ENROLL_SCOPE, reason="mfa_enrolled")


# --- staff -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: an account's id, role and agency (from the verified token)."""

    account_id: uuid.UUID
    roles: frozenset[str]
    agency_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class NewStaff:
    email: str
    full_name: str
    password: str
    role: str
    agency_id: uuid.UUID


async def create_staff(
    *,
    actor: Actor,
    staff: NewStaff,
    password_min_length: int,
    accounts: AccountRepository,
    agencies: AgencyRepository,
    hasher: PasswordHasher,
    events: EventRecorder,
    now: datetime,
) -> Account:
    """Platform admins create staff for any agency, agency admins for their own."""
    if Role.PLATFORM_ADMIN not in actor.roles and not (
        Role.AGENCY_ADMIN in actor.roles and actor.agency_id == staff.agency_id
    ):
        raise NotAllowed("Agency admins create staff for their own agency only.")
    if staff.role not in (Role.OFFICER, Role.AGENCY_ADMIN):
        raise InvalidInput("role must be officer or agency_admin", loc=["body", "role"])
    check_password_policy(
        staff.password, min_length=password_min_length, personal=(staff.email.split("@")[0],)
    )
    if not await agencies.known(staff.agency_id):
        raise UnknownAgency()
    if await accounts.email_taken(staff.email):
        raise EmailInUse()
    account = Account(
        id=uuid.uuid4(),
        role=staff.role,
        email=staff.email,
        full_name=" ".join(staff.full_name.split()),
        password_hash=await hasher.hash(staff.password),
        agency_id=staff.agency_id,
    )
    await accounts.add(account, created_by=actor.account_id)
    await events.record(
        new_event(
            type=contracts.STAFF_CREATED,
            source=contracts.SOURCE,
            subject=str(account.id),
            data=contracts.StaffCreated(
                account_id=account.id,
                agency_id=staff.agency_id,
                role=staff.role,
                created_by=actor.account_id,
                created_at=now,
            ),
        )
    )
    created = await accounts.get(account.id)
    assert created is not None
    return created


async def ensure_bootstrap_admin(
    *, email: str, password: str, accounts: AccountRepository, hasher: PasswordHasher
) -> Account | None:
    """The first platform admin, when there is none yet; None when nothing was created."""
    if await accounts.platform_admin_exists():
        return None
    address = normalise_email(email)
    if await accounts.email_taken(address):
        log.warning("bootstrap admin email belongs to another account; no admin created")
        return None
    account = Account(
        id=uuid.uuid4(),
        role=Role.PLATFORM_ADMIN,
        email=address,
        full_name="Administrator Platform",
        password_hash=await hasher.hash(password),
    )
    try:
        await accounts.add(account)
    except (EmailInUse, AlreadyRegistered):
        return None  # another replica was first
    return account


async def disable_account(
    *,
    actor: Actor,
    account_id: uuid.UUID,
    accounts: AccountRepository,
    events: EventRecorder,
    access_lifetime: timedelta,
    now: datetime,
) -> None:
    """A platform admin disables an account: it can no longer log in or refresh, and the
    gateways refuse the access tokens it still holds."""
    if Role.PLATFORM_ADMIN not in actor.roles:
        raise NotAllowed("Only platform admins disable accounts.")
    if account_id == actor.account_id:
        raise NotAllowed("Platform admins cannot disable their own account.")
    if not await accounts.disable(account_id):
        raise NotFound("account not found")
    await record_access_revoked(
        events,
        kind="account",
        id=str(account_id),
        reason="account_disabled",
        access_lifetime=access_lifetime,
        now=now,
    )


def ensure_active(account: Account | None) -> Account:
    """The account behind a token, as long as it exists and is not disabled."""
    if account is None or account.disabled:
        raise AccountDisabled()
    return account


def days(n: int) -> timedelta:
    return timedelta(days=n)
