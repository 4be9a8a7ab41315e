# The gitops-bump CLI as a small container image, for Tekton, GitLab CI and
# `uses: docker://…`. The binary is static (musl), so the runtime image only
# adds CA certificates and git (for --dir --commit).
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/gitops-bump

FROM alpine:3
RUN apk add --no-cache ca-certificates git \
    && adduser -D -u 10001 gitops-bump
COPY --from=build /src/target/release/gitops-bump /usr/local/bin/gitops-bump
USER gitops-bump
ENTRYPOINT ["/usr/local/bin/gitops-bump"]
