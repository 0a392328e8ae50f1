//! The pages and their assets, compiled into the binary (no CDN, nothing on
//! disk): a camera's page (`index.html`, `app.js`) and, with several
//! cameras, the camera list (`cameras.html`, `cameras.js`).

pub const INDEX: &str = include_str!("assets/index.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const STYLE_CSS: &str = include_str!("assets/style.css");
pub const CAMERAS: &str = include_str!("assets/cameras.html");
pub const CAMERAS_JS: &str = include_str!("assets/cameras.js");
