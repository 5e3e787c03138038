// citty decides on colours when it is first loaded, and colours whenever NO_COLOR/CI are unset,
// even into a pipe. Imported first by main.ts so help text piped to a file or a test stays plain.
if (!process.stdout.isTTY && process.env.NO_COLOR === undefined) process.env.NO_COLOR = "1";
