#!/usr/bin/env bash
# Makes the local RabbitMQ usable by tests and `make up`: running, with the management API on.
# With RABBITMQ_URL set, the broker is someone else's: nothing to do here.
set -euo pipefail
if [[ -n "${RABBITMQ_URL:-}" ]]; then exit 0; fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! listening 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting the local RabbitMQ (rabbitmq-server -detached)"
    rabbitmq-server -detached
  else
    echo "no RabbitMQ: nothing listens on 127.0.0.1:5672, rabbitmq-server is not installed," >&2
    echo "and RABBITMQ_URL is unset" >&2
    exit 1
  fi
fi
for _ in $(seq 1 60); do listening 5672 && break; sleep 1; done
listening 5672 || { echo "RabbitMQ did not start listening on 5672" >&2; exit 1; }

# The management API creates the tests' vhosts and (dispatch) the departments' users.
if ! listening 15672 && command -v rabbitmq-plugins >/dev/null; then
  rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
fi
for _ in $(seq 1 60); do listening 15672 && exit 0; sleep 1; done
echo "the RabbitMQ management API did not come up on 15672" >&2
exit 1
