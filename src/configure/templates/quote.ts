/**
 * Quoting for the three config languages we write. Values can come from the user (paths, addr,
 * passphrase), so nothing is interpolated raw.
 */

/** Fluentd single-quoted string: no `#{…}` Ruby interpolation (double quotes would evaluate it). */
export function fluentdString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** TOML basic string. JSON escapes are valid TOML escapes; DEL is the one control JSON leaves bare. */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\x7f/g, "\\u007F");
}

/** YAML double-quoted scalar: a JSON string is one. */
export function yamlString(value: string): string {
  return JSON.stringify(value);
}
