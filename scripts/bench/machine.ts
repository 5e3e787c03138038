import { cpus, release, totalmem, type } from "node:os";

/** One line describing where the numbers were taken: they mean little without it. */
export function describeMachine(): string {
  const list = cpus();
  const model = list[0]?.model?.trim() || "unknown CPU";
  const memGiB = (totalmem() / 1024 ** 3).toFixed(1);
  return `${list.length} CPUs (nproc), ${model}, ${memGiB} GiB RAM, ${type()} ${release()}, Bun ${Bun.version}`;
}
