//! The CLI's connection to Elasticsearch, shared by `setup` and `verify`:
//! URL, credentials (an API key or a user and password) and the CA to trust
//! for an `https` cluster whose certificate the system does not trust.

use clap::Args;
use serde_json::Value;
use std::time::Duration;

/// Where the cluster is and how to authenticate (command-line flags, or the
/// same environment variables as the shipped gateways).
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Elasticsearch URL, e.g. https://es.example.com:9200.
    #[arg(long, env = "ELASTICSEARCH_ENDPOINT")]
    pub elasticsearch: String,
    /// Encoded API key (README "Elasticsearch security" lists the role each command needs).
    #[arg(long, env = "ELASTICSEARCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// User for basic auth (instead of an API key).
    #[arg(long, env = "ELASTICSEARCH_USERNAME")]
    pub username: Option<String>,
    /// Password for basic auth.
    #[arg(long, env = "ELASTICSEARCH_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// PEM file of the CA that signed the cluster's certificate, trusted in
    /// place of the built-in roots (an https cluster with its own CA).
    #[arg(long, env = "ELASTICSEARCH_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// An HTTP client for one cluster.
pub struct Client {
    agent: ureq::Agent,
    url: String,
    authorization: Option<String>,
}

impl Client {
    /// A client for `args`.
    ///
    /// # Errors
    /// The CA file cannot be read or holds no certificate.
    pub fn new(args: &ConnectionArgs) -> Result<Self, String> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false);
        if let Some(path) = args.ca_file.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            let pem =
                std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca-file {}: no certificate in it",
                    path.display()
                ));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(Self {
            agent: config.build().into(),
            url: args.elasticsearch.trim_end_matches('/').to_owned(),
            authorization: authorization(
                args.api_key.as_deref(),
                args.username.as_deref(),
                args.password.as_deref(),
            ),
        })
    }

    /// One request to `<url>/<path>`; `(status, body)`, the body parsed as
    /// JSON where it is JSON and a string otherwise.
    ///
    /// # Errors
    /// No answer (connection, TLS, timeout); an HTTP error status is an answer.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}/{path}", self.url);
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json");
        let req = match &self.authorization {
            Some(auth) => req.header("authorization", auth),
            None => req,
        };
        let req = req
            .body(body.map(Value::to_string).unwrap_or_default())
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let mut resp = self
            .agent
            .run(req)
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }
}

/// The `Authorization` header from an API key (encoded, as Kibana shows
/// it) or a user and password.
pub fn authorization(
    api_key: Option<&str>,
    user: Option<&str>,
    password: Option<&str>,
) -> Option<String> {
    if let Some(k) = api_key.filter(|k| !k.is_empty()) {
        return Some(format!("ApiKey {k}"));
    }
    let user = user.filter(|u| !u.is_empty())?;
    use base64::Engine;
    let pair = format!("{user}:{}", password.unwrap_or(""));
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(
            authorization(None, Some("elastic"), Some("changeme")).as_deref(),
            Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
        );
        assert_eq!(
            authorization(Some("abc"), Some("u"), None).as_deref(),
            Some("ApiKey abc")
        );
        assert_eq!(authorization(Some(""), None, None), None);
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_an_error() {
        let dir = std::env::temp_dir().join(format!("cowork-ecs-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a pem\n").unwrap();
        let args = ConnectionArgs {
            elasticsearch: "https://x".into(),
            api_key: None,
            username: None,
            password: None,
            ca_file: Some(dir.clone()),
        };
        let err = Client::new(&args).err().unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert!(err.contains("no certificate"), "{err}");
    }
}
