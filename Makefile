# iam-sweeper: the commands a developer and CI run. `make demo` and `make test` are the two to know.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
CARGO ?= cargo

.PHONY: all build test lint unit demo audit-demo bench fuzz venv clean

all: build

## The Lambda package: cargo lambda (zig as the linker) builds the arm64 binary for
## provided.al2023 and zips it as target/lambda/iam-sweeper/bootstrap.zip. The Rust target
## aarch64-unknown-linux-gnu is added with rustup on first use.
build: tools rust-target
	$(WITH_TOOLS) $(CARGO) lambda build --release --arm64 --output-format zip
	@ls -l $(LAMBDA_ZIP)
	@du -h $(LAMBDA_ZIP)

## A plain native release build of the command-line binary (target/release/iam-sweeper).
release:
	$(CARGO) build --release

## The emulator's Python environment (moto, pinned), built once.
venv: $(VENV_STAMP)

$(VENV_STAMP): tests/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $@

## Deployment tools, pinned in tools/requirements.txt: cargo-lambda (with zig), cfn-lint and the
## SAM CLI, in their own Python environment, built once. The aws CLI is the operator's own.
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
WITH_TOOLS := PATH="$(abspath $(TOOLS_VENV))/bin:$$PATH" SAM_CLI_TELEMETRY=0
LAMBDA_TARGET := aarch64-unknown-linux-gnu
LAMBDA_ZIP := $(or $(CARGO_TARGET_DIR),target)/lambda/iam-sweeper/bootstrap.zip
AWS ?= aws
## The deployed stack, and its function (read from the stack's outputs when not given).
STACK ?= iam-sweeper
FUNCTION ?=

.PHONY: tools release validate deploy invoke-remote logs rust-target

tools: $(TOOLS_STAMP)

## The Rust target of the arm64 Lambda package, added with rustup on first use.
rust-target:
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)

## `aws logs tail` and `--cli-binary-format` exist only in version 2 of the AWS CLI: the targets
## that call the aws CLI refuse version 1 before doing anything.
AWS_CLI_V2 = @v=$$($(AWS) --version 2>&1 | head -n 1); case "$$v" in aws-cli/2.*) ;; \
  *) echo "make $@ needs AWS CLI version 2 (aws --version says: $${v:-nothing}); install it: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html" >&2; exit 1;; esac

$(TOOLS_STAMP): tools/requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

## Lint the SAM templates (template.yaml, and the organization's org/hub.yaml and
## org/member-role.yaml): cfn-lint (warnings fail), then SAM's own validation with its linter.
## Both work offline.
validate: tools
	$(WITH_TOOLS) cfn-lint --non-zero-exit-code warning -- template.yaml
	$(WITH_TOOLS) sam validate --lint --region us-east-1 --template-file template.yaml
	$(WITH_TOOLS) cfn-lint --non-zero-exit-code warning -- org/hub.yaml org/member-role.yaml
	$(WITH_TOOLS) sam validate --lint --region us-east-1 --template-file org/hub.yaml

## Build with SAM (which runs cargo lambda for arm64) and deploy the stack STACK (iam-sweeper).
## The first time (no samconfig.toml), or with GUIDED=1, `sam deploy --guided` asks for the region
## and every parameter, offering STACK as the stack name, and saves the answers in samconfig.toml;
## later deploys (to samconfig.toml's stack, unless STACK is given) send that file's
## parameters again. So settings are changed in samconfig.toml (or with GUIDED=1), never with
## --parameter-overrides alone, which the next plain deploy would undo. Needs AWS credentials.
## Never run by the tests.
deploy: tools rust-target
	$(WITH_TOOLS) sam build
	if [ -n "$(GUIDED)" ] || [ ! -f samconfig.toml ]; then \
	  $(WITH_TOOLS) sam deploy --guided --stack-name $(STACK); \
	else \
	  $(WITH_TOOLS) sam deploy $(if $(filter command line environment,$(origin STACK)),--stack-name $(STACK)); \
	fi

## A dry run of the deployed function (events/dry-run.json: report mode whatever the stack's Mode),
## result in out.json. Needs AWS credentials: FUNCTION=<name>, or STACK=<stack> (default iam-sweeper).
invoke-remote:
	$(AWS_CLI_V2)
	@fn="$(FUNCTION)"; \
	if [ -z "$$fn" ]; then \
	  fn=$$($(AWS) cloudformation describe-stacks --stack-name $(STACK) \
	    --query "Stacks[0].Outputs[?OutputKey=='FunctionName'].OutputValue" --output text) || exit 1; \
	fi; \
	echo "invoking $$fn"; \
	$(AWS) lambda invoke --function-name "$$fn" --cli-read-timeout 900 \
	  --payload fileb://events/dry-run.json out.json && cat out.json && echo

## The function's logs of the last day (its log group is /aws/lambda/<stack>); FOLLOW=1 to follow.
logs:
	$(AWS_CLI_V2)
	$(AWS) logs tail /aws/lambda/$(STACK) --since 1d --format short $(if $(FOLLOW),--follow)

## Formatting, lints and the whole test suite (unit, property, CLI, mocked AWS, emulator end to end,
## the template translated by the pinned SAM CLI's translator and deployed into the emulator's
## CloudFormation). Then the deployment checks: the template is linted (warnings fail) and the arm64
## Lambda package builds.
test: venv lint validate
	IAM_SWEEPER_PYTHON=$(abspath $(VENV_PY)) IAM_SWEEPER_TOOLS_PYTHON=$(abspath $(TOOLS_VENV))/bin/python \
	  $(CARGO) test --all-targets
	$(CARGO) test --doc
	$(MAKE) --no-print-directory build

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## A full enforcing sweep against the local AWS emulator, printing the email SNS received; then an
## organization of a few member accounts swept as the Step Functions workflow would, and its digest.
demo: venv
	$(CARGO) build --quiet
	$(VENV_PY) tests/emulator/demo.py target/debug/iam-sweeper

## The offline audit of the bundled sample report (seed 002's six users plus a root row).
audit-demo:
	$(CARGO) run --quiet -- audit tests/fixtures/seed-sample.csv --as-of 2016-09-15T00:00:00Z || [ $$? -eq 3 ]

## Performance figures, printed as a table and saved to bench-results/latest.json (bench/run.py):
## criterion's parse + evaluate of a 5,000-user report, then sweeps of the release binary against
## a BENCH_USERS-user account on the local AWS emulator (report, enforce, cold start), and Cloud
## Custodian (c7n, pinned in bench/requirements.txt, in its own environment .venv-bench) on the
## same data and the same rule, and an organization sweep (100 member accounts of 100 users, the
## workflow's steps run as tests/emulator/org_demo.py runs them; BENCH_ARGS="--org-accounts 0" skips it). Peak RSS is read with GNU time (/usr/bin/time, Debian's `time`).
## BENCH_ARGS passes more options, e.g. BENCH_ARGS="--peer-users 1000 --peer-runs 1".
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_USERS ?= 5000
BENCH_RUNS ?= 3
BENCH_ARGS ?=

.PHONY: bench-venv

bench-venv: $(BENCH_STAMP)

$(BENCH_STAMP): bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench: venv bench-venv
	$(CARGO) bench --bench rules
	$(CARGO) build --release
	$(VENV_PY) bench/run.py --binary $(or $(CARGO_TARGET_DIR),target)/release/iam-sweeper \
	  --peer-python $(BENCH_VENV)/bin/python --users $(BENCH_USERS) --runs $(BENCH_RUNS) $(BENCH_ARGS)

## Fuzz the credential-report parser and the event decoding, FUZZ_SECONDS (60) per target. Not
## part of `make test` or CI. cargo-fuzz is installed into .tools on first use; its nightly-only
## compiler flags are allowed on the stable toolchain with RUSTC_BOOTSTRAP=1. Each target starts
## from the bundled reports, events and bad-input corpus; crashes land in fuzz/artifacts/.
FUZZ_TOOLS := .tools
CARGO_FUZZ := $(FUZZ_TOOLS)/bin/cargo-fuzz
FUZZ_SECONDS ?= 60

fuzz: $(CARGO_FUZZ)
	mkdir -p fuzz/corpus/report_parser fuzz/corpus/event_decoding
	RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) run report_parser fuzz/corpus/report_parser tests/fixtures tests/corpus/reports -- -max_total_time=$(FUZZ_SECONDS)
	RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) run event_decoding fuzz/corpus/event_decoding events tests/corpus/events -- -max_total_time=$(FUZZ_SECONDS)

$(CARGO_FUZZ):
	$(CARGO) install cargo-fuzz --locked --root $(FUZZ_TOOLS)

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(TOOLS_VENV) $(BENCH_VENV)
