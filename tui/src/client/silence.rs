//! `POST /api/v1/silences` on one agent.

use opsdeck_agent::api::{SilenceCreated, SilenceRequest};

use super::{error_status, AgentTarget, ClientError};

/// Creates a silence and returns its id.
pub async fn create_silence(
    http: &reqwest::Client,
    target: &AgentTarget,
    request: &SilenceRequest,
) -> Result<String, ClientError> {
    let response = target
        .authorize(http.post(target.endpoint("/api/v1/silences")))
        .timeout(std::time::Duration::from_secs(10))
        .json(request)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(error_status(response).await);
    }
    let created: SilenceCreated = response.json().await?;
    Ok(created.id)
}
