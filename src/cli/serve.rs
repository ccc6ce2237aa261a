//! `vigie serve` (the default): runs the service until it is stopped.

use std::path::Path;

use crate::{config::Settings, startup::Application};

pub(super) fn serve(config: Option<&Path>) -> anyhow::Result<i32> {
    let settings = Settings::load(config)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        app.run_until_stopped().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}
