//! Downloads of attachments: the age file streamed out of storage, chunk
//! by chunk. (Uploads are `api::attachments` and `service::upload`.)

use actix_web::{http::header, web, HttpResponse};

use crate::{
    db::{Attachment, Db, DbError},
    domain::AttachmentId,
};

/// Streams an attachment's age file out of storage, chunk by chunk.
pub fn stream(db: Db, id: AttachmentId) -> HttpResponse {
    let chunks = futures_util::stream::unfold((db, id, 0i32), |(db, id, seq)| async move {
        let i = id.clone();
        let chunk = db
            .run(move |conn| -> Result<Option<Vec<u8>>, DbError> {
                Ok(Attachment::chunk(conn, &i, seq)?)
            })
            .await;
        match chunk {
            Ok(Some(bytes)) => Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(bytes)),
                (db, id, seq + 1),
            )),
            _ => None,
        }
    });
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(header::ContentEncoding::Identity)
        .streaming(chunks)
}
