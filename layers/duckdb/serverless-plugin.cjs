// Serverless plugin: builds the DuckDB layer (build.ts) before the service is packaged, so
// `sls package` / `sls deploy` on a fresh clone ship it, and prints what the layer and each
// function that uses it weigh unzipped against Lambda's 250 MB limit.
const { execFileSync } = require('node:child_process');
const { readFileSync, existsSync } = require('node:fs');
const { join, resolve } = require('node:path');

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

/** Sum of the uncompressed sizes in a zip's central directory. */
function unzippedBytes(zipFile) {
  const zip = readFileSync(zipFile);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${zipFile} is not a zip file`);
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  let total = 0;
  for (let i = 0; i < entries; i++) {
    total += zip.readUInt32LE(at + 24);
    at += 46 + zip.readUInt16LE(at + 28) + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return total;
}

class DuckDbLayerPlugin {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options ?? {};
    this.log = (line) => (utils?.log ? utils.log.notice(line) : console.log(line));
    this.hooks = {
      'before:package:compileLayers': () => this.offlineLayerCompare(),
      'before:package:createDeploymentArtifacts': () => this.build(),
      'before:deploy:function:packageFunction': () => this.build(),
      'after:package:finalize': () => this.report(),
    };
  }

  /**
   * The framework compares a layer with the deployed stack's (DescribeStacks) while packaging, which
   * fails with no AWS credentials. `sls package` must work offline: without credentials there is
   * nothing deployed to compare with, so the layer is packaged as new (what a deploy uploads).
   */
  offlineLayerCompare() {
    const compiler = this.serverless.pluginManager.plugins.find(
      (p) => p.constructor.name === 'AwsCompileLayers',
    );
    if (!compiler || compiler.__offlineCompare) return;
    const compare = compiler.compareWithLastLayer.bind(compiler);
    compiler.compareWithLastLayer = async (layerName) => {
      try {
        return await compare(layerName);
      } catch (error) {
        if (error?.code !== 'AWS_CREDENTIALS_NOT_FOUND') throw error;
        this.log(
          `layer ${layerName}: no AWS credentials, not compared with a deployed stack (packaged as new)`,
        );
      }
    };
    compiler.__offlineCompare = true;
  }

  build() {
    const root = this.serverless.config.servicePath;
    const tsx = require.resolve('tsx/cli', { paths: [root] });
    execFileSync(process.execPath, [tsx, join(__dirname, 'build.ts')], { cwd: root, stdio: 'inherit' });
  }

  /** Layer + function sizes unzipped, from the artifacts just written; fails past Lambda's limit. */
  report() {
    const root = this.serverless.config.servicePath;
    const dir = resolve(root, this.options.package ?? '.serverless');
    const layerZip = join(dir, 'duckdb.zip');
    if (!existsSync(layerZip)) return;
    const layer = unzippedBytes(layerZip);
    const functions = this.serverless.service.functions ?? {};
    for (const [name, fn] of Object.entries(functions)) {
      if (!JSON.stringify(fn.layers ?? []).includes('DuckdbLambdaLayer')) continue;
      const zip = join(dir, `${name}.zip`);
      if (!existsSync(zip)) continue;
      const own = unzippedBytes(zip);
      const total = layer + own;
      this.log(
        `duckdb layer ${(layer / 2 ** 20).toFixed(1)} MiB + ${name} ${(own / 2 ** 20).toFixed(2)} MiB = ${(total / 2 ** 20).toFixed(1)} MiB unzipped (Lambda allows 250 MiB)`,
      );
      if (total > LAMBDA_UNZIPPED_LIMIT) {
        throw new Error(`${name} with the duckdb layer is ${total} bytes unzipped, over Lambda's 250 MB`);
      }
    }
  }
}

module.exports = DuckDbLayerPlugin;
