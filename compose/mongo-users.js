// One MongoDB user per gridloop service, with readWrite on its own database only (a service owns
// its database and no other reads it: docs/architecture.md, "Storage"). The mongo image runs
// this once, as the root user, on the first start of an empty volume
// (/docker-entrypoint-initdb.d); a volume made before keeps the users it has. Passwords come from
// the mongo container's environment, the same variables each service's MONGODB_URL is built from
// in docker-compose.yml.
const services = ["intake", "dispatch", "sla-monitor", "scoring", "notify", "console"];
const admin = db.getSiblingDB("admin");
for (const service of services) {
  const variable = service.toUpperCase().replace("-", "_") + "_MONGO_PASSWORD";
  const password = process.env[variable];
  if (!password) {
    throw new Error(`${variable} is not set: no user for ${service}`);
  }
  admin.createUser({
    user: `gridloop-${service}`,
    pwd: password,
    roles: [{ role: "readWrite", db: `gridloop_${service.replace("-", "_")}` }],
  });
  print(`gridloop-${service}: readWrite on gridloop_${service.replace("-", "_")}`);
}
