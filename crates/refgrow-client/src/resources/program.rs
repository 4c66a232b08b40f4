//! `GET/PATCH /v1/program`.

use refgrow_types::api::{Program, ProgramResponse, UpdateProgram};
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// `/v1/program`: the settings and the commission rule of the key's program. Get one with
    /// [`Client::program`](crate::Client::program).
    ProgramApi
);

impl ProgramApi<'_> {
    /// `GET /v1/program`.
    pub async fn get(&self) -> Result<Program, Error> {
        let r: ProgramResponse = self.call(Method::GET, &["program"]).await?;
        Ok(r.program)
    }

    /// `PATCH /v1/program`: changes the fields that are set; the commission rule is replaced
    /// whole. Returns the program after the change.
    pub async fn update(&self, changes: UpdateProgram) -> Result<Program, Error> {
        let r: ProgramResponse = self
            .call_json(Method::PATCH, &["program"], &changes)
            .await?;
        Ok(r.program)
    }
}
