# syntax=docker/dockerfile:1
#
# newsflow images: the four binaries `make build` builds (fetcher, enricher,
# sink, newsflow), static (CGO_ENABLED=0: the SQLite driver is pure Go), in a
# small Alpine image running as a non-root user. Alpine rather than distroless
# so that the compose health checks can call wget; the image is ~20 MB.
#
#   docker build -t newsflow .
#   docker run --rm newsflow                       # newsflow run (all stages, embedded broker)
#   docker run --rm --entrypoint fetcher newsflow -h
#
# docker-compose.yml builds it once and runs each stage with its own entrypoint.

FROM golang:1.26-alpine AS build
WORKDIR /src
# Dependencies first, so that editing the code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -ldflags="-s -w" -o /out/ ./cmd/...

FROM alpine:3.22
# ca-certificates: feeds are fetched over HTTPS; tzdata: time zones in feed dates.
RUN apk add --no-cache ca-certificates tzdata \
    && addgroup -S -g 10001 newsflow \
    && adduser -S -D -H -u 10001 -G newsflow newsflow \
    && mkdir -p /var/lib/newsflow \
    && chown newsflow:newsflow /var/lib/newsflow
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/newsflow
VOLUME ["/var/lib/newsflow"]
# 9100 newsflow (all-in-one), 9101 fetcher, 9102 enricher, 9103 sink: /metrics /healthz /readyz
EXPOSE 9100 9101 9102 9103
ENTRYPOINT ["/usr/local/bin/newsflow"]
CMD ["run", "--data", "/var/lib/newsflow"]
