# syntax=docker/dockerfile:1
# svidkit's images built with Docker, for those who build that way. The
# images `go tool task images` builds (internal/images, no Docker needed)
# have the same layout: one static binary at /usr/local/bin/<name> as the
# entrypoint, distroless's nonroot user (65532) except for the agent (root:
# it creates the Workload API socket in a root-owned hostPath directory and
# reads /proc of workloads of every uid) and the CSI driver (root: it
# bind-mounts into pod volumes), CA certificates, /etc/passwd, and
# the OCI source/version/revision labels. internal/images/dockerfile_test.go
# checks this file against internal/images.List.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --target svidkit-server -t ghcr.io/svidkit/svidkit-server:v0.1.0 .

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=unknown
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries, flags as the Taskfile's build task. The build context
# has no .git (see .dockerignore), so the version and commit come from the
# build arguments through pkg/version's -ldflags fallback.
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    GOFLAGS="-trimpath -tags=grpcnotrace -buildvcs=false" \
    LDFLAGS="-s -w -X github.com/svidkit/svidkit/pkg/version.fallbackVersion=${VERSION} -X github.com/svidkit/svidkit/pkg/version.fallbackCommit=${COMMIT}"
RUN go build -ldflags "$LDFLAGS" -o /out/svidkit-server ./cmd/server
RUN go build -ldflags "$LDFLAGS" -o /out/svidkit-agent ./cmd/agent
RUN go build -ldflags "$LDFLAGS" -o /out/svidkit-helper ./cmd/helper
RUN go build -ldflags "$LDFLAGS" -o /out/svidkit-sds ./cmd/sds
RUN go build -ldflags "$LDFLAGS" -o /out/svidkit-csi ./cmd/csi

# distroless-static: CA certificates, /etc/passwd with nonroot (65532),
# /tmp; no shell, no libc.
FROM gcr.io/distroless/static-debian12:nonroot AS base
ARG VERSION=unknown
ARG COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/svidkit/svidkit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

FROM base AS svidkit-server
COPY --from=build /out/svidkit-server /usr/local/bin/svidkit-server
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/svidkit-server"]

FROM base AS svidkit-agent
COPY --from=build /out/svidkit-agent /usr/local/bin/svidkit-agent
USER 0:0
ENTRYPOINT ["/usr/local/bin/svidkit-agent"]

FROM base AS svidkit-helper
COPY --from=build /out/svidkit-helper /usr/local/bin/svidkit-helper
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/svidkit-helper"]

FROM base AS svidkit-sds
COPY --from=build /out/svidkit-sds /usr/local/bin/svidkit-sds
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/svidkit-sds"]

FROM base AS svidkit-csi
COPY --from=build /out/svidkit-csi /usr/local/bin/svidkit-csi
USER 0:0
ENTRYPOINT ["/usr/local/bin/svidkit-csi"]
