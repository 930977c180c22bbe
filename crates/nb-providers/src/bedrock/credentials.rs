//! AWS credentials: the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`) or a profile of the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`; `AWS_PROFILE`, else
//! `default`). The secret key and session token are [`secrecy`]-wrapped.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, ConfigErrorKind};

/// AWS credentials for signing. Neither the secret key nor the session token ever
/// appears in `Debug`, `Display`, logs or errors.
///
/// ```
/// use nb_providers::AwsCredentials;
/// let c = AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", None);
/// assert!(!format!("{c:?}").contains("wJalr"));
/// ```
#[derive(Clone)]
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

fn missing(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::MissingKey, message)
}

impl AwsCredentials {
    /// Credentials given explicitly (a session token for temporary ones).
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret_access_key.into()),
            session_token: session_token.map(SecretString::from),
        }
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
    /// `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&|name| std::env::var(name).ok())
    }

    fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let id = get("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| missing("AWS_ACCESS_KEY_ID is not set".into()))?;
        let secret = get("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY is not set".into()))?;
        Ok(Self::new(id, secret, get("AWS_SESSION_TOKEN")))
    }

    /// From `profile` (or `AWS_PROFILE`, else `default`) of the shared credentials file
    /// (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    pub fn from_profile(profile: Option<&str>) -> Result<Self, ConfigError> {
        let path = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("HOME")
                .or_else(|| std::env::var_os("USERPROFILE"))
                .map(|h| PathBuf::from(h).join(".aws").join("credentials"))
                .ok_or_else(|| missing("no home directory for ~/.aws/credentials".into()))?,
        };
        let env_profile = std::env::var("AWS_PROFILE").ok();
        let name = profile
            .or(env_profile.as_deref())
            .filter(|p| !p.is_empty())
            .unwrap_or("default");
        Self::from_profile_file(&path, name)
    }

    /// From profile `profile` of the credentials file at `path` (INI: `[name]` sections
    /// with `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`).
    pub fn from_profile_file(path: &Path, profile: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            missing(format!(
                "cannot read the AWS credentials file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_profile_text(&text, profile).ok_or_else(|| {
            missing(format!(
                "profile [{profile}] of {} has no aws_access_key_id and aws_secret_access_key",
                path.display()
            ))
        })
    }

    fn from_profile_text(text: &str, profile: &str) -> Option<Self> {
        let (mut id, mut secret, mut token) = (None, None, None);
        let mut inside = false;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let section = section.trim();
                // The config file spells profiles `[profile name]`; accept it here too.
                inside = section == profile
                    || section.strip_prefix("profile ").map(str::trim) == Some(profile);
                continue;
            }
            if !inside {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
        match (id, secret) {
            (Some(i), Some(s)) if !i.is_empty() && !s.is_empty() => {
                Some(Self::new(i, s, token.filter(|t| !t.is_empty())))
            }
            _ => None,
        }
    }

    /// The environment's credentials, else the profile's.
    pub fn resolve() -> Result<Self, ConfigError> {
        Self::from_env().or_else(|env| {
            Self::from_profile(None)
                .map_err(|profile| missing(format!("no AWS credentials: {env}; and {profile}")))
        })
    }

    pub(crate) fn to_smithy(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose_secret().to_owned(),
            self.session_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            None,
            "neuralbridge",
        )
    }

    /// The secrets, to redact from anything a server echoes.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut v = vec![self.secret_access_key.expose_secret().to_owned()];
        if let Some(t) = &self.session_token {
            v.push(t.expose_secret().to_owned());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_variables_with_an_optional_session_token() {
        let vars = |t: Option<&'static str>| {
            move |n: &str| match n {
                "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
                "AWS_SECRET_ACCESS_KEY" => Some("SECRET".to_owned()),
                "AWS_SESSION_TOKEN" => t.map(str::to_owned),
                _ => None,
            }
        };
        let c = AwsCredentials::from_vars(&vars(Some("TOKEN"))).unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secrets(), ["SECRET", "TOKEN"]);
        let c = AwsCredentials::from_vars(&vars(None)).unwrap();
        assert!(c.session_token.is_none());
        let e = AwsCredentials::from_vars(&|_| None).unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::MissingKey);
    }

    #[test]
    fn profiles_of_the_shared_credentials_file() {
        let text = "# comment\n[default]\naws_access_key_id = AKID1\naws_secret_access_key=S1\n\n\
                    [profile work]\naws_access_key_id = AKID2\naws_secret_access_key = S2\naws_session_token = T2\n\
                    [broken]\naws_access_key_id = AKID3\n";
        let d = AwsCredentials::from_profile_text(text, "default").unwrap();
        assert_eq!(
            (d.access_key_id.as_str(), d.secrets()),
            ("AKID1", vec!["S1".to_owned()])
        );
        let w = AwsCredentials::from_profile_text(text, "work").unwrap();
        assert_eq!(w.secrets(), ["S2", "T2"]);
        assert!(AwsCredentials::from_profile_text(text, "broken").is_none());
        assert!(AwsCredentials::from_profile_text(text, "absent").is_none());
        assert!(!format!("{w:?}").contains("S2") && !format!("{w:?}").contains("T2"));
    }
}
