/**
 * The role and user for the handler. Role version v5: the rules used here mean the same in v5 and
 * v7, and v5 is accepted by every Teleport release the handler talks to (v7 needs Teleport 14+);
 * the upstream guide shows v5 as well.
 */
export function roleYaml(): string {
  return `kind: role
metadata:
  name: teleport-event-handler
spec:
  allow:
    rules:
      - resources: ['event', 'session']
        verbs: ['list', 'read']
      # Needed only with lock-enabled = true (auto-lock after failed logins); remove otherwise.
      - resources: ['lock']
        verbs: ['create', 'update']
version: v5
---
kind: user
metadata:
  name: teleport-event-handler
spec:
  roles: ['teleport-event-handler']
version: v2
`;
}
