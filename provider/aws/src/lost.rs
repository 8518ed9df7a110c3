//! Lost answers: a creating call that AWS applied but whose answer never arrived.
//!
//! The SDK's standard retry policy treats a connection reset or a read timeout as transient
//! and sends the request again. For a read, or a call that sets something to a value, that is
//! right. For a call that makes a new object with no name to make it unique (EC2 CreateVpc,
//! CreateSubnet, AllocateAddress, KMS CreateKey, ...) the second request makes a second
//! object, which no state records and no destroy removes; for a named create it gets an
//! "already exists" error that fails the apply although the object is ours.
//!
//! So, per operation:
//! - [`LostAnswerGuard`], an interceptor on every client, stops the SDK from retrying a
//!   creating call ([`creates`]) after a transport error that may have come after the request
//!   was sent. The call fails with [`LostAnswer`] instead, which [`super::step::StepError`]
//!   recognises ([`super::step::StepError::is_lost_answer`]). Throttling and 5xx answers (AWS
//!   said it did nothing) and every read keep the SDK's retries.
//! - The composite then observes again — every object it creates is tagged with its owner at
//!   creation or has a name it is found by — and carries on from what exists ([`settle`]): the
//!   object whose answer was lost is adopted, and one that AWS never made is created again.

use super::step::StepError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::future::Future;

/// How many times a composite part is run when answers keep getting lost (each round
/// observes again first, so a round never repeats what an earlier one did).
pub const MAX_ROUNDS: u32 = 5;

/// Creating calls that start with `Create` but are idempotent: retrying them is harmless.
/// CreateBucket is: a second request for a bucket its account owns answers
/// `BucketAlreadyOwnedByYou` (200 in us-east-1), which [`super::s3::create_or_adopt`] accepts
/// (and the bucket's owner tag is only set after it, so it could not be told ours otherwise).
const IDEMPOTENT_CREATES: &[&str] = &["CreateTags", "CreateBucket"];

/// Other calls whose retry after AWS applied them makes a second object or fails.
const OTHER_CREATES: &[&str] = &[
    "AllocateAddress",
    "RunInstances",
    "CreateDistributionWithTags",
];

/// Whether `operation` makes a new object, so that sending it twice is not the same as once.
pub fn creates(operation: &str) -> bool {
    (operation.starts_with("Create") && !IDEMPOTENT_CREATES.contains(&operation))
        || OTHER_CREATES.contains(&operation)
}

/// The error a creating call ends with when its answer may have been lost.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the connection failed after the {operation} request was sent, so AWS may have applied it; \
     it is not sent again blindly: the provider looks for the object by its owner tag or name first"
)]
pub struct LostAnswer {
    pub operation: String,
}

/// Whether an attempt's error may have happened after the server received the request: a
/// transport error (reset, broken pipe, read timeout) or an attempt timeout. An HTTP answer,
/// even a 5xx, is not: AWS said what it did.
fn may_have_been_applied<E>(e: &OrchestratorError<E>) -> bool {
    if e.is_timeout_error() {
        return true;
    }
    e.as_connector_error()
        .is_some_and(|c| c.is_io() || c.is_timeout() || c.is_other())
}

/// The interceptor added to every client (see [`super::config`]).
#[derive(Debug, Default, Clone)]
pub struct LostAnswerGuard;

impl Intercept for LostAnswerGuard {
    fn name(&self) -> &'static str {
        "platformkit.LostAnswerGuard"
    }

    fn modify_before_attempt_completion(
        &self,
        ctx: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else {
            return Ok(());
        };
        if !creates(&op) {
            return Ok(());
        }
        let lost = matches!(ctx.output_or_error(), Some(Err(e)) if may_have_been_applied(e));
        if lost {
            tracing::warn!(target: "platform::aws", operation = %op, "AWS answer lost; not retried blindly");
            // Replacing the attempt's error with ours: the retry classifiers see no transport
            // error, so the SDK returns this error instead of sending the request again.
            return Err(Box::new(LostAnswer { operation: op }));
        }
        Ok(())
    }
}

/// Whether `e` (an SDK error and its sources) is a [`LostAnswer`].
pub fn find<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a LostAnswer> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(l) = c.downcast_ref::<LostAnswer>() {
            return Some(l);
        }
        cur = c.source();
    }
    None
}

/// Runs one part of a composite (which observes what exists before it creates anything) until
/// it ends without a lost answer: after a lost answer it is run again, so the object AWS made
/// is adopted and one it did not make is created. `what` names the part in the log.
pub async fn settle<T, F, Fut>(what: &str, mut part: F) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StepError>>,
{
    let mut round = 1;
    loop {
        match part().await {
            Err(e) if e.is_lost_answer() && round < MAX_ROUNDS => {
                tracing::warn!(
                    target: "platform::aws",
                    part = what,
                    operation = %e.step,
                    round,
                    "lost answer: observing again to adopt what AWS created"
                );
                round += 1;
            }
            r => return r,
        }
    }
}

/// One creating call with its lost-answer rule, for a create that is not inside a part that
/// observes first: after a lost answer, `find` looks the object up (by its owner tag or name);
/// found, it is adopted, else `create` runs again.
pub async fn create_or_find<T, C, CF, L, LF>(
    what: &str,
    mut create: C,
    mut find: L,
) -> Result<T, StepError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, StepError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, StepError>>,
{
    let mut round = 1;
    loop {
        match create().await {
            Err(e) if e.is_lost_answer() && round < MAX_ROUNDS => {
                if let Some(found) = find().await? {
                    tracing::warn!(target: "platform::aws", object = what, operation = %e.step, "lost answer: adopted the object AWS created");
                    return Ok(found);
                }
                tracing::warn!(target: "platform::aws", object = what, operation = %e.step, "lost answer: AWS did not create it; creating again");
                round += 1;
            }
            r => return r,
        }
    }
}

/// Create-first convergence of one uniquely named object (an ECR repository, an IAM role):
/// with nothing in state (`fresh`) `create` runs straight away and its answer is trusted;
/// otherwise `observe` reads first. `create` answers `None` when the name is already taken;
/// the object is then read and handed to `adopt`, which accepts it only if it is ours.
/// `read_step` names the read in the error when a taken name cannot be read.
pub async fn create_first<T, O, OF, C, CF, A>(
    fresh: bool,
    what: &str,
    read_step: &str,
    observe: O,
    create: C,
    adopt: A,
) -> Result<T, StepError>
where
    O: Fn() -> OF,
    OF: Future<Output = Result<Option<T>, StepError>>,
    C: FnOnce() -> CF,
    CF: Future<Output = Result<Option<T>, StepError>>,
    A: Fn(T) -> Result<T, StepError>,
{
    if !fresh {
        if let Some(o) = observe().await? {
            return adopt(o);
        }
    }
    if let Some(o) = create().await? {
        return Ok(o);
    }
    match observe().await? {
        Some(o) => adopt(o),
        None => Err(StepError::new(
            read_step,
            format!("{what} was reported to exist but cannot be read"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn which_operations_create() {
        for op in [
            "CreateVpc",
            "CreateSubnet",
            "CreateInternetGateway",
            "CreateRouteTable",
            "AllocateAddress",
            "CreateNatGateway",
            "CreateKey",
            "CreateDistributionWithTags",
        ] {
            assert!(creates(op), "{op}");
        }
        for op in [
            "CreateTags",
            "CreateBucket",
            "DescribeVpcs",
            "PutBucketPolicy",
            "TagResource",
            "DeleteVpc",
            "ModifyVpcAttribute",
        ] {
            assert!(!creates(op), "{op}");
        }
    }

    #[test]
    fn lost_answer_is_found_in_a_source_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] LostAnswer);
        let e = Outer(LostAnswer {
            operation: "CreateVpc".into(),
        });
        assert_eq!(find(&e).map(|l| l.operation.as_str()), Some("CreateVpc"));
        let plain = std::io::Error::other("reset");
        assert!(find(&plain).is_none());
    }

    fn lost(op: &str) -> StepError {
        StepError::lost_answer(op)
    }

    #[tokio::test]
    async fn settle_reruns_only_after_a_lost_answer() {
        let n = AtomicU32::new(0);
        let r = settle("network", || async {
            match n.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(lost("CreateVpc")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.expect("settled"), 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);

        let n = AtomicU32::new(0);
        let r: Result<(), _> = settle("network", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(StepError::new("CreateVpc", "VpcLimitExceeded"))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 1, "other errors are not repeated");

        let n = AtomicU32::new(0);
        let r: Result<(), _> = settle("network", || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(lost("CreateVpc"))
        })
        .await;
        assert!(r.expect_err("gives up").is_lost_answer());
        assert_eq!(n.load(Ordering::SeqCst), MAX_ROUNDS);
    }

    /// An HTTP client whose every request fails like a reset connection, counting requests.
    #[derive(Debug, Clone, Default)]
    struct ResetEveryRequest(std::sync::Arc<AtomicU32>);

    impl aws_smithy_runtime_api::client::http::HttpConnector for ResetEveryRequest {
        fn call(
            &self,
            _request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Err(
                aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(reset)),
            ))
        }
    }

    impl aws_smithy_runtime_api::client::http::HttpClient for ResetEveryRequest {
        fn http_connector(
            &self,
            _settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
            aws_smithy_runtime_api::client::http::SharedHttpConnector::new(self.clone())
        }
    }

    fn ec2_resetting(requests: &ResetEveryRequest) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .http_client(aws_smithy_runtime_api::client::http::SharedHttpClient::new(
                requests.clone(),
            ))
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(std::time::Duration::from_millis(1)),
            )
            .interceptor(LostAnswerGuard)
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn a_reset_create_is_sent_once_and_ends_as_a_lost_answer_while_reads_retry() {
        use crate::step::Step;
        let requests = ResetEveryRequest::default();
        let ec2 = ec2_resetting(&requests);

        let e = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .step("CreateVpc")
            .expect_err("no answer");
        assert!(e.is_lost_answer(), "{e}");
        assert_eq!(
            requests.0.load(Ordering::SeqCst),
            1,
            "CreateVpc not retried"
        );

        requests.0.store(0, Ordering::SeqCst);
        let e = ec2
            .describe_vpcs()
            .send()
            .await
            .step("DescribeVpcs")
            .expect_err("no answer");
        assert!(!e.is_lost_answer(), "{e}");
        assert_eq!(
            requests.0.load(Ordering::SeqCst),
            4,
            "a read keeps its retries"
        );

        requests.0.store(0, Ordering::SeqCst);
        let e = ec2
            .create_tags()
            .resources("vpc-1")
            .send()
            .await
            .step("CreateTags")
            .expect_err("no answer");
        assert!(!e.is_lost_answer(), "{e}");
        assert_eq!(
            requests.0.load(Ordering::SeqCst),
            4,
            "CreateTags is idempotent"
        );
    }

    #[tokio::test]
    async fn create_or_find_adopts_or_creates_again() {
        // Lost, and AWS made it: adopted, not created twice.
        let creates = AtomicU32::new(0);
        let r = create_or_find(
            "ou",
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<&str, _>(lost("CreateOrganizationalUnit"))
            },
            || async { Ok(Some("ou-1")) },
        )
        .await;
        assert_eq!(r.expect("adopted"), "ou-1");
        assert_eq!(creates.load(Ordering::SeqCst), 1);

        // Lost before AWS acted: created again, once.
        let creates = AtomicU32::new(0);
        let r = create_or_find(
            "ou",
            || async {
                match creates.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(lost("CreateOrganizationalUnit")),
                    _ => Ok("ou-2"),
                }
            },
            || async { Ok(None) },
        )
        .await;
        assert_eq!(r.expect("created"), "ou-2");
        assert_eq!(creates.load(Ordering::SeqCst), 2);

        // Any other error is the caller's, and nothing is looked up.
        let looked = AtomicU32::new(0);
        let r = create_or_find(
            "ou",
            || async { Err::<&str, _>(StepError::new("CreateOrganizationalUnit", "denied")) },
            || async {
                looked.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            },
        )
        .await;
        assert!(r.is_err() && !r.expect_err("err").is_lost_answer());
        assert_eq!(looked.load(Ordering::SeqCst), 0);
    }
}
