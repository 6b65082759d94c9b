//! The bulk jobs in a hub document (`bulk` tag): query exports, uploads, the instance's jobs, a
//! job's status, cancel, errors and result, as [`crate::hub::bulk`] answers them (docs/bulk.md).
//!
//! The object names a job takes are the element's (an export's those it lists, an upload's those
//! it creates), in the `BulkObjectName` and `BulkUploadObjectName` schemas; an instance's document
//! adds its common resources to them ([`add_common_object`]).

use mapping::{FieldType, ObjectCatalog, ObjectDef, Operation as Allowed};
use serde_json::{json, Value};
use utoipa::openapi::encoding::EncodingBuilder;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{
    Components, ContentBuilder, Header, HeaderBuilder, OpenApi, PathItem, Paths, Ref, RefOr, Required,
};

use domain::elements::Element;

use super::element_document::{error_response, nullable, operation, string};

const TAG: &str = "bulk";
/// The schemas this module adds.
const JOB_STATUS: &str = "BulkJobStatus";
const JOB_CREATED: &str = "BulkJobCreated";
const ROW_ERROR: &str = "BulkRowError";
const OBJECT_NAME: &str = "BulkObjectName";
const UPLOAD_OBJECT_NAME: &str = "BulkUploadObjectName";
/// The header naming where the end of a job is notified (`hub::bulk`).
const CALLBACK_HEADER: &str = "Elements-Async-Callback-Url";
/// The errors page size when none is named, and the largest one (`hub::bulk::errors`).
const DEFAULT_ERRORS_PAGE_SIZE: u32 = 200;
const MAX_ERRORS_PAGE_SIZE: u32 = 1000;
/// The jobs `GET /bulk/jobs` lists at most (`hub::bulk::JOBS_LISTED`).
const JOBS_LISTED: u32 = 200;
/// A job id: a positive decimal integer, as the store numbers jobs (`hub::bulk::job_id`; any other
/// path segment is an unknown job, a 404).
const JOB_ID: &str = "^[1-9][0-9]{0,18}$";
/// One `bytes=` range per request: `a-b`, `a-` or `-n` (`hub::bulk::byte_range`).
const RANGE: &str = "^bytes=([0-9]{1,19}-([0-9]{1,19})?|-[0-9]{1,19})$";
/// A callback URL: http or https with a host (`platform::callback::check_url`), or nothing (an
/// empty header is no callback).
const CALLBACK_URL: &str = r"^\s*$|^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*\s*$";

const JOB_STATUSES: [&str; 5] = ["CREATED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];

/// The bulk paths of `element`'s hub `hub`, and the schemas they name.
pub(super) fn add(paths: &mut Paths, components: &mut Components, hub: &str, element: &Element) {
    add_schemas(components, element);
    let base = format!("/hubs/{hub}/bulk");
    let objects = || ObjectCatalog::builtin().objects(&element.key);
    // The examples name the element's first objects, so that they work as they are.
    let example_query = objects().find(|(_, object)| object.allows(Allowed::List)).map(|(name, _)| {
        let q = format!("select * from {name}");
        (json!(q), json!({ "q": q }))
    });
    let (example_query, example_body) = example_query.unzip();

    let query = operation(TAG, "createBulkQuery", "Start an export of a query's records")
        .description(Some(
            "Creates a job that reads every record `q` selects, page by page at background priority, into a \
             result readable as JSON lines or CSV. `q` is `select <fields> from <object> [where <CEQL>] \
             [order by <field> [asc|desc]]`: `*` or field names of the object (GET /objects/{object}/metadata), \
             a `where` as the object's list takes it, and an `order by` on one field the vendor sorts by. \
             `q` is read from the query string, else from the JSON body. Everything is checked before the \
             job is created, and no vendor call is made here.",
        ))
        .parameter(query_parameter(
            "q",
            string().examples(example_query).into(),
            "The bulk query, e.g. `select * from contacts where LastUpdated >= '2026-01-01'`; when absent, the \
             body's `q`",
        ))
        .parameter(callback_header())
        .request_body(Some(
            RequestBodyBuilder::new()
                .description(Some("`{\"q\": ...}`, read only when the query string has no `q`"))
                .required(Some(Required::False))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().property("q", string().description(Some("The bulk query")))))
                        .example(example_body)
                        .build(),
                )
                .build(),
        ))
        .response("200", created_response("The job, queued"));
    let query = errors(
        query,
        &[
            (
                "400",
                "No `q`, or one that is not a bulk query of the object's fields (the message names what), a body \
                 that is not JSON, or a refused callback URL",
            ),
            UNAUTHORIZED,
            DISABLED,
            ("404", "No such object, or another organization's instance"),
            ("405", "The object cannot be listed"),
            ("413", "The body is larger than 1 MB"),
            UNAVAILABLE,
        ],
    );
    paths.paths.insert(format!("{base}/query"), PathItem::new(HttpMethod::Post, query));

    let jobs = operation(TAG, "getBulkJobs", "List the instance's bulk jobs")
        .description(Some(&format!("The instance's jobs, newest first, {JOBS_LISTED} at most")))
        .response(
            "200",
            json_response("Each job's status", ArrayBuilder::new().items(Ref::from_schema_name(JOB_STATUS)).into()),
        );
    let jobs = errors(jobs, &[UNAUTHORIZED, DISABLED, ("404", "Another organization's instance"), UNAVAILABLE]);
    paths.paths.insert(format!("{base}/jobs"), PathItem::new(HttpMethod::Get, jobs));

    let example_upload = objects().find(|(_, object)| object.allows(Allowed::Create)).and_then(upload_example);
    paths.paths.insert(format!("{base}/{{objectName}}"), PathItem::new(HttpMethod::Post, upload(example_upload)));

    let status = operation(TAG, "getBulkJobStatus", "Read a bulk job's status")
        .parameter(job_id())
        .response("200", status_response("The job's status"));
    paths.paths.insert(format!("{base}/{{id}}/status"), PathItem::new(HttpMethod::Get, job_errors(status, &[])));

    let cancel = operation(TAG, "cancelBulkJob", "Cancel a bulk job")
        .description(Some(
            "A job not yet ended is CANCELLED: its runner stops at its next step, and what it wrote stays. An \
             ended job is answered as it is.",
        ))
        .parameter(job_id())
        .response("200", status_response("The job's status, CANCELLED unless it had ended"));
    paths.paths.insert(format!("{base}/{{id}}/cancel"), PathItem::new(HttpMethod::Put, job_errors(cancel, &[])));

    let page = |maximum: Option<u64>, default: Option<u32>| {
        let schema = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(maximum);
        schema.default(default.map(Value::from)).into()
    };
    let total = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some("The number of rows the job refused"))
        .build();
    let row_errors = operation(TAG, "getBulkJobErrors", "Read the rows a bulk upload refused")
        .description(Some("In row order"))
        .parameter(job_id())
        .parameter(query_parameter("page", page(Some(u64::MAX), None), "The page number from 1"))
        .parameter(query_parameter(
            "pageSize",
            page(Some(u64::from(MAX_ERRORS_PAGE_SIZE)), Some(DEFAULT_ERRORS_PAGE_SIZE)),
            &format!("Rows per page (default {DEFAULT_ERRORS_PAGE_SIZE}, at most {MAX_ERRORS_PAGE_SIZE})"),
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("One page of refused rows")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(ArrayBuilder::new().items(Ref::from_schema_name(ROW_ERROR))))
                        .build(),
                )
                .header("Elements-Total-Count", required(total))
                .build(),
        );
    let row_errors = job_errors(row_errors, &[("400", "`page` or `pageSize` is not a positive integer, or too large")]);
    paths.paths.insert(format!("{base}/{{id}}/errors"), PathItem::new(HttpMethod::Get, row_errors));

    paths.paths.insert(format!("{base}/{{id}}/{{objectName}}"), PathItem::new(HttpMethod::Get, result()));
}

/// Adds a common resource of an instance to the object names its bulk jobs take.
pub(super) fn add_common_object(document: &mut OpenApi, name: &str, definition: &ObjectDef) {
    let Some(components) = document.components.as_mut() else { return };
    for (schema, allowed) in [(OBJECT_NAME, Allowed::List), (UPLOAD_OBJECT_NAME, Allowed::Create)] {
        if !definition.allows(allowed) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) {
            object.enum_values.get_or_insert_with(Vec::new).push(Value::from(name));
        }
    }
}

fn add_schemas(components: &mut Components, element: &Element) {
    let names = |allowed: Allowed| -> Vec<String> {
        let objects = ObjectCatalog::builtin().objects(&element.key);
        objects.filter(|(_, object)| object.allows(allowed)).map(|(name, _)| name.to_string()).collect()
    };
    let object_name = string()
        .enum_values(Some(names(Allowed::List)))
        .description(Some("An object of the instance's element (or a common resource) that can be listed"));
    components.schemas.insert(OBJECT_NAME.into(), object_name.into());
    let upload_name = string()
        .enum_values(Some(names(Allowed::Create)))
        .description(Some("An object of the instance's element (or a common resource) that takes creates"));
    components.schemas.insert(UPLOAD_OBJECT_NAME.into(), upload_name.into());

    let id = || string().pattern(Some(JOB_ID)).description(Some("The job's id"));
    let status = || string().enum_values(Some(JOB_STATUSES.to_vec()));
    let created = ObjectBuilder::new()
        .property("id", id())
        .property("status", status().description(Some("CREATED: queued, not yet claimed by a runner")))
        .required("id")
        .required("status");
    components.schemas.insert(JOB_CREATED.into(), created.into());

    let count = |description: &str| {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).description(Some(description))
    };
    let time = |description: &str| {
        string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).description(Some(description))
    };
    let job = ObjectBuilder::new()
        .description(Some("A bulk job as it stands (also the body POSTed to its callback URL when it ends)"))
        .property("id", id())
        .property("status", status())
        .property("type", string().enum_values(Some(["query", "upload"])))
        .property("objectName", string().description(Some("The object the job reads or writes")))
        .property("query", string().description(Some("An export's `q`")))
        .property("recordsCount", count("Records exported, or rows an upload wrote"))
        .property("recordsFailedCount", count("Rows an upload refused (see /bulk/{id}/errors)"))
        .property(
            "expectedRecordsCount",
            count("The vendor's count of the records an export matches, when its list gives one; an upload's rows"),
        )
        .property("vendorCalls", count("Calls made to the vendor so far"))
        .property("createdDate", time("When the job was created"))
        .property("startedDate", nullable(time("When a runner first started it")))
        .property("completedDate", nullable(time("When it ended")))
        .property(
            "estimatedCompletion",
            nullable(time("When it should end at its rate so far (its end, once ended), when that is known")),
        )
        .property("error", string().description(Some("Why a FAILED job failed")));
    let job = ["id", "status", "type", "objectName", "recordsCount", "recordsFailedCount", "vendorCalls"]
        .into_iter()
        .chain(["createdDate", "startedDate", "completedDate", "estimatedCompletion"])
        .fold(job, ObjectBuilder::required);
    components.schemas.insert(JOB_STATUS.into(), job.into());

    let row_error = ObjectBuilder::new()
        .property("row", count("The 1-based data row of the file (the CSV header is not one)").minimum(Some(1)))
        .property("field", nullable(string()).description(Some("The field at fault, when the message names one")))
        .property(
            "message",
            string().description(Some("Why the row was refused: the vendor's own message, when it gave one")),
        )
        .required("row")
        .required("field")
        .required("message");
    components.schemas.insert(ROW_ERROR.into(), row_error.into());
}

/// An upload of one row to `object`: its first writable text field, and its name.
fn upload_example((name, object): (&str, &ObjectDef)) -> Option<(Value, Value)> {
    let field = object.fields.iter().find(|field| field.writable && field.field_type == FieldType::String)?;
    Some((json!(name), json!({ "file": format!("{}\nExample\n", field.name) })))
}

/// `POST /bulk/{objectName}`: a multipart upload (`example`: an object name and a body).
fn upload(example: Option<(Value, Value)>) -> utoipa::openapi::path::Operation {
    let (example_object, example_body) = example.unzip();
    let object = ParameterBuilder::new()
        .name("objectName")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The object the file's rows are written to"))
        .schema(Some(Ref::from_schema_name(UPLOAD_OBJECT_NAME)))
        .example(example_object)
        .build();
    let meta = ObjectBuilder::new()
        .description(Some("JSON text; also accepted as a part named `metadata`"))
        .property(
            "identifierFieldName",
            nullable(string()).description(Some(
                "Upsert: each row is looked up by this field of the object (`where Email = '...'`) and updated when \
                 found, created when not. Absent, null or blank: every row is created",
            )),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    // A part's name is a header parameter: no control characters (the multipart reader refuses them).
    let part_name = string().pattern(Some(r"^[^\x00-\x08\x0A-\x1F\x7F]*$"));
    let form = ObjectBuilder::new()
        .description(Some("Parts other than `file` and `metaData` are read and ignored (64 KB at most each)"))
        .property_names(Some(part_name))
        .property(
            "file",
            string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))).description(Some(
                "CSV with a header row naming fields of the object, or JSON lines (one object per line); UTF-8, \
                 at least one data row. The format is the part's media type (`text/csv`, `application/x-ndjson`), \
                 else its file name (`.csv`, `.jsonl`, `.ndjson`), else its first byte (`{` is JSON lines)",
            )),
        )
        .property("metaData", meta)
        .required("file");
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "multipart/form-data",
            ContentBuilder::new()
                .schema(Some(form))
                .example(example_body)
                .encoding("file", EncodingBuilder::new().content_type(Some("text/csv, application/x-ndjson")).build())
                .encoding("metaData", EncodingBuilder::new().content_type(Some("application/json")).build())
                .build(),
        )
        .build();
    let upload = operation(TAG, "createBulkUpload", "Upload a CSV or JSON-lines file of records to write")
        .description(Some(
            "The file is received into the store in parts and read through once before the job is queued; a \
             file that fails is refused whole, naming the row and the problem, and no vendor call is made. Each \
             row is then created (or upserted by `identifierFieldName`) on its own; refused rows are listed by \
             GET /bulk/{id}/errors.",
        ))
        .parameter(object)
        .parameter(callback_header())
        .request_body(Some(body))
        .response("200", created_response("The job, queued"));
    errors(
        upload,
        &[
            (
                "400",
                "No `file` part, a malformed file (the message names the row and the problem), metaData, \
                 multipart body or callback URL",
            ),
            UNAUTHORIZED,
            DISABLED,
            ("404", "No such object, or another organization's instance"),
            ("405", "The object takes no creates (or, for an upsert, no updates or lists)"),
            ("413", "The file is larger than the server's limit (--bulk-max-upload-mb, default 1024)"),
            ("415", "The body is not multipart/form-data"),
            UNAVAILABLE,
        ],
    )
    .build()
}

/// `GET /bulk/{id}/{objectName}`: an export's result, whole or one byte range.
fn result() -> utoipa::openapi::path::Operation {
    let object = ParameterBuilder::new()
        .name("objectName")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The object the job exports (its `objectName`, in any case)"))
        .schema(Some(Ref::from_schema_name(OBJECT_NAME)))
        .build();
    let format = query_parameter(
        "format",
        string().enum_values(Some(["jsonl", "csv", "ndjson", "json"])).into(),
        "`csv`, or JSON lines (`jsonl`, `ndjson` or `json`), in any case. When absent, the Accept header decides: \
         CSV when its first media type is text/csv, else JSON lines",
    );
    let range = ParameterBuilder::new()
        .name("Range")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some("One byte range of the result: `bytes=START-END`, `bytes=START-` or `bytes=-LAST`"))
        .schema(Some(string().pattern(Some(RANGE))))
        .build();
    let body = |description: &str| {
        let content = |text: &str| ContentBuilder::new().schema(Some(string().description(Some(text)))).build();
        let lines = "One record per line, as the hub's lists answer them (null fields dropped when the instance's \
                     filter.response.nulls is true)";
        let csv = "RFC 4180 (CRLF line ends) with a header row (the selected fields, or all of the object's), \
                   nested fields flattened as paths (address.city, emails[0].value); charset=utf-8";
        ResponseBuilder::new()
            .description(description)
            .content("application/x-ndjson", content(lines))
            .content("text/csv", content(csv))
    };
    let header = |schema: ObjectBuilder, description: &str| {
        required(HeaderBuilder::new().schema(Some(schema)).description(Some(description)).build())
    };
    let length =
        || header(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)), "The bytes of this answer");
    let ranges = || header(string().enum_values(Some(["bytes"])), "Byte ranges are served");
    let job_status =
        || header(string().enum_values(Some(JOB_STATUSES.to_vec())), "The job's status when the result was read");
    let whole =
        body("The result so far: what the job had committed when the request arrived (all of it once it is COMPLETED)")
            .header("Content-Length", length())
            .header("Accept-Ranges", ranges())
            .header("Elements-Bulk-Status", job_status())
            .build();
    let part = body("The range asked for")
        .header("Content-Length", length())
        .header("Accept-Ranges", ranges())
        .header("Elements-Bulk-Status", job_status())
        .header(
            "Content-Range",
            header(
                string().pattern(Some(r"^bytes [0-9]+-[0-9]+/([0-9]+|\*)$")),
                "`bytes START-END/TOTAL`; TOTAL is `*` while the job has not ended",
            ),
        )
        .build();
    let result = operation(TAG, "getBulkJobResult", "Download an export's records")
        .description(Some(
            "Readable while the job runs. JSON lines, or CSV as `format` or the Accept header asks (CSV cells \
             starting with `=`, `+`, `-` or `@`, other than numbers, are prefixed with `'`).",
        ))
        .parameter(job_id())
        .parameter(object)
        .parameter(format)
        .parameter(range)
        .response("200", whole)
        .response("206", part);
    job_errors(
        result,
        &[
            ("400", "A `format` other than csv or jsonl, or a Range header that is not one `bytes=` range"),
            ("404", "No such job of this instance, a job of another object, or an upload (it has no result)"),
            ("416", "The range starts at or after the end of the result so far, or ends before it starts"),
        ],
    )
    .build()
}

/// The errors of an operation on one job (`{id}`), with `more` besides or instead.
fn job_errors(operation: OperationBuilder, more: &[(&'static str, &'static str)]) -> OperationBuilder {
    let mut statuses = vec![
        ("400", "The path is not valid UTF-8 text"),
        UNAUTHORIZED,
        DISABLED,
        ("404", "No such job of this instance (or another organization's instance)"),
        UNAVAILABLE,
    ];
    for (status, description) in more {
        match statuses.iter_mut().find(|(known, _)| known == status) {
            Some(entry) => entry.1 = description,
            None => statuses.push((status, description)),
        }
    }
    statuses.sort_by_key(|(status, _)| *status);
    errors(operation, &statuses)
}

const UNAUTHORIZED: (&str, &str) = ("401", "Missing or wrong credentials, or an unknown instance token");
const DISABLED: (&str, &str) = ("403", "The instance is disabled");
const UNAVAILABLE: (&str, &str) = ("503", "The platform's database is unavailable; try again later");

fn errors(operation: OperationBuilder, statuses: &[(&str, &str)]) -> OperationBuilder {
    statuses
        .iter()
        .fold(operation, |operation, (status, description)| operation.response(*status, error_response(description)))
}

fn job_id() -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The job's id, as its creation answered"))
        .schema(Some(string().pattern(Some(JOB_ID))))
        .build()
}

fn query_parameter(name: &str, schema: RefOr<Schema>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn callback_header() -> Parameter {
    ParameterBuilder::new()
        .name(CALLBACK_HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Where the job's status is POSTed once when it ends (retried until a 2xx): an http(s) URL whose host \
             is not this machine nor a private, link-local or metadata address (unless the server allows private \
             callbacks). Signed like event notifications when the instance has a signature key",
        ))
        .schema(Some(string().pattern(Some(CALLBACK_URL))))
        .build()
}

/// `header`, always sent. utoipa's header has no field for OpenAPI's `required`; its extensions
/// are written as they are named.
fn required(mut header: Header) -> Header {
    header.extensions = Some(Extensions::from_iter([("required", true)]));
    header
}

fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

fn created_response(description: &str) -> Response {
    let link = |operation_id: &str| {
        LinkBuilder::new().operation_id(operation_id).parameter("id", json!("$response.body#/id")).build()
    };
    let mut response = json_response(description, Ref::from_schema_name(JOB_CREATED).into());
    for (name, operation_id) in
        [("status", "getBulkJobStatus"), ("cancel", "cancelBulkJob"), ("errors", "getBulkJobErrors")]
    {
        response.links.insert(name.into(), link(operation_id).into());
    }
    response
}

fn status_response(description: &str) -> Response {
    let result = LinkBuilder::new()
        .operation_id("getBulkJobResult")
        .parameter("id", json!("$response.body#/id"))
        .parameter("objectName", json!("$response.body#/objectName"))
        .build();
    let mut response = json_response(description, Ref::from_schema_name(JOB_STATUS).into());
    response.links.insert("result".into(), result.into());
    response
}
