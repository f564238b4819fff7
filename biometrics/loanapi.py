"""Fingerprints in core's JSON API (/api/): guarantors, enrollment at investigation, the
disbursement desk, post-loan inspection, staff enrollment and step-up.

Importing this module registers its operations on `core.api.routes` (done by `mount`,
before core's /api/ application is built). The handlers reach the fingerprint service
through `prints(request)`: over HTTP at LOANCTL_BIOMETRICS_URL, else in this process.
"""
from __future__ import annotations

from aiohttp import web

from core.api import routes
from core.apispec import ID_MAX, Body, Field, id_field
from core.context import principal, scope, services
from core.errors import InvalidInput

from . import stepup
from .client import BiometricsClient, HttpClient, LocalClient
from .loanprints import LoanPrints
from .service import DPI_MAX, DPI_MIN, CaptureInput

IMAGE_BASE64_MAX = 2_000_000
CLIENT = web.AppKey("biometrics_client", object)


def _capture_fields(**extra: Field) -> dict[str, Field]:
    return {"image_base64": Field("string", min_length=1, max_length=IMAGE_BASE64_MAX,
                                  description="the scanner's file (PNG, BMP, TIFF, JPEG or WSQ) in standard base64 "
                                              "(RFC 4648 §4, with padding, no line breaks)"),
            "dpi": Field("number", required=False, minimum=DPI_MIN, maximum=DPI_MAX,
                         description="scan resolution (default 500)"),
            "device": Field("string", required=False, max_length=100, description="scanner model / serial"),
            **extra}


GUARANTOR = Body("Guarantor", {
    "name": Field("string", min_length=1, max_length=100),
    "id_number": Field("string", min_length=15, max_length=18),
    "phone": Field("string", required=False, max_length=32),
})
ENROLLMENT = Body("FingerprintEnrollment", _capture_fields(
    customer_id=id_field( description="the applicant or a guarantor of the loan"),
    finger=Field("integer", minimum=1, maximum=10, description="ISO finger position: 1 right thumb … 10 left little")))
DESK = Body("DisbursementPrints", {
    "captures": Field("array", max_items=12, items=Field("object"),
                      description="one {customer_id, image_base64, dpi, device} per person on the loan"),
})
INSPECTION = Body("InspectionPrint", _capture_fields())
STAFF_ENROLLMENT = Body("StaffFingerprint", _capture_fields(
    finger=Field("integer", minimum=1, maximum=10),
    step_up=Field("string", required=False, max_length=200,
                  description="with prints enrolled: a step-up token (POST /api/step-up, loan_id 0, action "
                              "enroll_fingerprint, SHA-256 of {finger})"),
    witness=Field("string", required=False, min_length=1, max_length=64,
                  description="first enrollment (or instead of step_up): the user name of an administrator or "
                              "supervisor over the caller, present at the scanner"),
    witness_image_base64=Field("string", required=False, min_length=1, max_length=IMAGE_BASE64_MAX,
                               description="the witness's fresh print"),
    witness_dpi=Field("number", required=False, minimum=DPI_MIN, maximum=DPI_MAX),
    witness_device=Field("string", required=False, max_length=100)))
STEP_UP = Body("StepUp", _capture_fields(
    loan_id=Field("integer", minimum=0, maximum=ID_MAX, description="the loan (0 for a new application on a customer's behalf)"),
    action=Field("string", min_length=1, max_length=64, pattern=r"[a-z_]+"),
    payload_sha256=Field("string", pattern=r"[0-9a-f]{64}",
                         description="SHA-256 of the command payload's canonical JSON (sorted keys, no spaces, UTF-8)")))


def client_of(app: web.Application) -> BiometricsClient:
    return app[CLIENT]


def make_client(config, runtime) -> BiometricsClient:
    if config.biometrics_url:
        return HttpClient(config.biometrics_url, config.secret_key)
    return LocalClient(runtime)


def prints(request: web.Request) -> LoanPrints:
    from recordings.api import ARCHIVE

    svc = services(request)
    return LoanPrints(svc.config, svc.db, request.config_dict[CLIENT], request.config_dict.get(ARCHIVE))


def _capture(body: dict) -> CaptureInput:
    return CaptureInput.from_json(body)


@routes.route("POST", "/loans/{loan_id}/guarantors", summary="Add a guarantor to a loan (officer A, investigation)",
              body=GUARANTOR, tag="fingerprints", responses={201: "Added"})
async def add_guarantor(request: web.Request, loan_id: int, body: dict) -> web.Response:
    result = await prints(request).add_guarantor(scope(request), loan_id, name=body["name"],
                                                 id_number=body["id_number"], phone=body.get("phone", ""))
    return web.json_response(result, status=201)


@routes.route("GET", "/loans/{loan_id}/fingerprints", tag="fingerprints",
              summary="Who gives prints for the loan, what is enrolled, duplicate-identity hits")
async def loan_prints(request: web.Request, loan_id: int) -> web.Response:
    return web.json_response(await prints(request).status(scope(request), loan_id))


@routes.route("POST", "/loans/{loan_id}/fingerprints/enrollments", body=ENROLLMENT, tag="fingerprints",
              summary="Enroll a finger of the applicant or a guarantor at investigation (with the duplicate search)",
              responses={201: "Enrolled", 409: "Replay", 422: "Poor capture"})
async def enroll(request: web.Request, loan_id: int, body: dict) -> web.Response:
    result = await prints(request).enroll(scope(request), loan_id, body["customer_id"], body["finger"], _capture(body))
    return web.json_response(result, status=201)


@routes.route("POST", "/loans/{loan_id}/fingerprints/disbursement", body=DESK, tag="fingerprints",
              summary="Match every person's fresh print at the disbursement desk")
async def disbursement(request: web.Request, loan_id: int, body: dict) -> web.Response:
    captures = {}
    for i, item in enumerate(body["captures"]):
        customer = item.get("customer_id")
        if not isinstance(customer, int) or isinstance(customer, bool) or customer in captures:
            raise InvalidInput(f"captures[{i}].customer_id must be a distinct integer", details={"captures": "customer_id"})
        captures[customer] = _capture(item)
    return web.json_response(await prints(request).disbursement_check(scope(request), loan_id, captures))


@routes.route("POST", "/loans/{loan_id}/fingerprints/post-loan", body=INSPECTION, tag="fingerprints",
              summary="Match the customer's print for a post-loan inspection")
async def post_loan(request: web.Request, loan_id: int, body: dict) -> web.Response:
    return web.json_response(await prints(request).post_loan_check(scope(request), loan_id, _capture(body)))


@routes.route("GET", "/me/fingerprints", summary="The caller's own enrolled fingers (for step-up)", tag="fingerprints")
async def my_prints(request: web.Request) -> web.Response:
    from .service import Subject

    who = principal(request)
    items = await request.config_dict[CLIENT].enrolled(Subject("user", who.user_id))
    return web.json_response({"items": items, "step_up": services(request).config.step_up})


@routes.route("POST", "/me/fingerprints", body=STAFF_ENROLLMENT, tag="fingerprints",
              summary="Enroll one of the caller's own fingers (staff, for step-up): a step-up with an enrolled "
                      "finger, or an administrator's or supervisor's print in person for the first one",
              responses={201: "Enrolled", 403: "Step-up or witness missing or refused"})
async def enroll_me(request: web.Request, body: dict) -> web.Response:
    witness = None
    if "witness" in body or "witness_image_base64" in body:
        if "witness" not in body or "witness_image_base64" not in body:
            raise InvalidInput("a witness needs both witness and witness_image_base64", details={"witness": "required"})
        witness = stepup.Witness(body["witness"], CaptureInput.from_json(
            {"image_base64": body["witness_image_base64"], "dpi": body.get("witness_dpi"),
             "device": body.get("witness_device")}))
    result = await stepup.enroll_self(request.config_dict[CLIENT], services(request).db, principal(request),
                                      body["finger"], _capture(body), step_up=body.get("step_up"), witness=witness)
    return web.json_response(result, status=201)


@routes.route("POST", "/step-up", body=STEP_UP, tag="fingerprints",
              summary="Confirm an important action with a fresh print: a single-use token for it",
              responses={200: "Token", 403: "The print did not match"})
async def step_up(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    who = principal(request)
    if body["loan_id"]:
        async with svc.db.unit_of_work(write=False) as session:
            await scope(request).loan(session, body["loan_id"])
    result = await stepup.issue(request.config_dict[CLIENT], svc.db, who, loan_id=body["loan_id"],
                                action=body["action"], payload_sha256=body["payload_sha256"], capture=_capture(body),
                                lifetime_seconds=svc.config.step_up_seconds)
    return web.json_response(result)
