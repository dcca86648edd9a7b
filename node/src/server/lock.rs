//! `v3lock.Lock`: distributed locks held by a lease, served with the mutex recipe of
//! [`recipes`](super::recipes) (the same keys `etcdctl lock` creates).

use etcdlab_core::proto::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use tonic::{Request, Response, Status};

use super::recipes::Recipes;
use crate::rpc::v3lockpb::lock_server::Lock;

pub struct LockService {
    recipes: Recipes,
}

impl LockService {
    pub fn new(recipes: Recipes) -> Self {
        LockService { recipes }
    }
}

#[tonic::async_trait]
impl Lock for LockService {
    /// Waits until the lock `name` is held under the request's lease; the answer's key is the
    /// holder's, to unlock with.
    async fn lock(&self, request: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        self.recipes
            .check_name(request.metadata(), &request.get_ref().name, true)
            .await?;
        let req = request.into_inner();
        let holder = self.recipes.lock(&req.name, req.lease).await?;
        Ok(Response::new(LockResponse {
            header: Some(holder.header),
            key: holder.key,
        }))
    }

    async fn unlock(
        &self,
        request: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        let key = &request.get_ref().key;
        self.recipes
            .check_keys(request.metadata(), key, &[], true)
            .await?;
        let header = self.recipes.unlock(key).await?;
        Ok(Response::new(UnlockResponse {
            header: Some(header),
        }))
    }
}
