export const id = 312;
export const ids = [312];
export const modules = {

/***/ 20312:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  createGitHubCommentPort: () => (/* reexport */ createGitHubCommentPort),
  createGitHubDeploymentLedger: () => (/* reexport */ createGitHubDeploymentLedger),
  createGitHubIO: () => (/* reexport */ createGitHubIO),
  gitHubRunContext: () => (/* reexport */ gitHubRunContext)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 11 modules
var core = __webpack_require__(91659);
// EXTERNAL MODULE: ./src/core/secrets.ts
var secrets = __webpack_require__(58198);
// EXTERNAL MODULE: ./src/core/report/escape.ts
var report_escape = __webpack_require__(8547);
;// CONCATENATED MODULE: ./src/adapters/github/io.ts



/**
 * ActionIO over @actions/core: the only place an action touches the runner's commands.
 *
 * Every secret the core registers (core/secrets.ts: header parts, URL userinfo, `${VAR}` values) is
 * masked in the runner's logs as soon as it is known, and every text this adapter sends (log lines,
 * annotations, the failure, the job summary) is scrubbed of them first, so that nothing relies on the
 * runner's masking alone.
 */
function createGitHubIO() {
    secrets/* secrets */.O3.onAdd((secret) => core/* setSecret */.Pq(secret));
    return {
        getInput: (name) => core/* getInput */.V4(name),
        setOutput: (name, value) => core/* setOutput */.uH(name, value),
        appendSummary: async (markdown) => {
            await core/* summary */.z.addRaw((0,secrets/* scrub */._I)(markdown), true).write();
        },
        annotate: (level, message, title) => {
            const props = title ? { title: (0,secrets/* scrub */._I)(title) } : {};
            const text = (0,report_escape/* stripTerminalControls */.ZB)((0,secrets/* scrub */._I)(message));
            if (level === 'error')
                core/* error */.z3(text, props);
            else if (level === 'warning')
                core/* warning */.$e(text, props);
            else
                core/* notice */.lm(text, props);
        },
        // A new secret reaches core.setSecret through the subscription above; a short or known one directly.
        setSecret: (secret) => {
            if (!secrets/* secrets */.O3.add(secret))
                core/* setSecret */.Pq(secret);
        },
        // A log line is printed as it is, so a line of it that starts with `::` would be obeyed: sanitised.
        info: (message) => core/* info */.pq((0,report_escape/* sanitizeLogText */.fu)((0,secrets/* scrub */._I)(message))),
        warning: (message) => core/* warning */.$e((0,report_escape/* stripTerminalControls */.ZB)((0,secrets/* scrub */._I)(message))),
        // A title is one line of the log, like an info line: sanitised the same way.
        startGroup: (title) => core/* startGroup */.Oh((0,report_escape/* sanitizeLogText */.fu)((0,secrets/* scrub */._I)(title))),
        endGroup: () => core/* endGroup */.N4(),
        setFailed: (message, exitCode) => {
            core/* setFailed */.C1((0,report_escape/* stripTerminalControls */.ZB)((0,secrets/* scrub */._I)(message)));
            process.exitCode = exitCode;
        },
    };
}

// EXTERNAL MODULE: ./node_modules/@actions/github/lib/github.js
var github = __webpack_require__(61351);
// EXTERNAL MODULE: ./src/version.ts
var version = __webpack_require__(311);
;// CONCATENATED MODULE: ./src/adapters/github/context.ts


/** The run's GitHub facts, read once; absent ones stay undefined (e.g. when run outside Actions). */
function gitHubRunContext() {
    const ctx = github/* context */._;
    const repository = process.env.GITHUB_REPOSITORY;
    const [owner, repo] = repository?.split('/') ?? [];
    const pr = ctx.payload?.pull_request?.number ?? undefined;
    const runUrl = repository && ctx.runId ? `${ctx.serverUrl}/${repository}/actions/runs/${ctx.runId}` : undefined;
    return {
        tool: version/* TOOL */.j,
        version: version/* VERSION */.x,
        repository,
        owner,
        repo,
        sha: ctx.sha || undefined,
        ref: ctx.ref || undefined,
        runId: ctx.runId ? String(ctx.runId) : undefined,
        runUrl,
        pullRequest: pr,
    };
}

// EXTERNAL MODULE: ./src/core/errors.ts
var errors = __webpack_require__(74296);
;// CONCATENATED MODULE: ./src/adapters/github/comment.ts


/** The HTTP status an Octokit RequestError carries, if the error is one. */
function httpStatus(e) {
    const status = typeof e === 'object' && e !== null ? e.status : undefined;
    return typeof status === 'number' ? status : undefined;
}
/**
 * Among comments holding the marker, the one a bot wrote (the Actions token posts as
 * `github-actions[bot]`), so a human quoting the marker is never edited.
 */
function pickComment(comments, marker) {
    const marked = comments.filter((c) => c.body?.includes(marker));
    return marked.find((c) => c.user?.type === 'Bot') ?? marked[0];
}
/** A CommentPort over the GitHub REST API: edits the marked comment in place, else creates one. */
function createGitHubCommentPort(opts) {
    const baseUrl = opts.apiUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com';
    const octokit = (0,github/* getOctokit */.Q)(opts.token, { baseUrl });
    const where = { owner: opts.owner, repo: opts.repo };
    const target = `${opts.owner}/${opts.repo}#${opts.issueNumber}`;
    return {
        async upsert(body, marker) {
            try {
                const comments = await octokit.paginate(octokit.rest.issues.listComments, {
                    ...where,
                    issue_number: opts.issueNumber,
                    per_page: 100,
                });
                const existing = pickComment(comments, marker);
                if (existing) {
                    const { data } = await octokit.rest.issues.updateComment({ ...where, comment_id: existing.id, body });
                    return { action: 'updated', url: data.html_url };
                }
                const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: opts.issueNumber, body });
                return { action: 'created', url: data.html_url };
            }
            catch (e) {
                const status = httpStatus(e);
                // A pull request from a fork gets a read-only token: the report still lands in the job summary.
                if (status === 403 || status === 404) {
                    return {
                        action: 'skipped',
                        reason: `no permission to comment on this pull request: GitHub answered ${status} for ${target} (${(0,errors/* errorText */.kc)(e)}). ` +
                            'Give the job permissions: pull-requests: write; a pull request from a fork only ever gets a read-only token',
                    };
                }
                throw new Error(`Could not comment on ${target}: GitHub answered ${status ?? 'no status'}: ${(0,errors/* errorText */.kc)(e)}`, { cause: e });
            }
        },
    };
}

;// CONCATENATED MODULE: ./src/adapters/github/deployments.ts
/*
 * The deployment ledger over GitHub Deployments (REST). Endpoints, bodies and status codes as documented:
 *   create a deployment          POST /repos/{owner}/{repo}/deployments                     https://docs.github.com/rest/deployments/deployments#create-a-deployment
 *   list deployments             GET  /repos/{owner}/{repo}/deployments?sha&environment     https://docs.github.com/rest/deployments/deployments#list-deployments
 *   create a deployment status   POST /repos/{owner}/{repo}/deployments/{id}/statuses       https://docs.github.com/rest/deployments/statuses#create-a-deployment-status
 *   list deployment statuses     GET  /repos/{owner}/{repo}/deployments/{id}/statuses       https://docs.github.com/rest/deployments/statuses#list-deployment-statuses
 * Both lists answer newest first.
 */


/** GitHub's limit on deployment and status descriptions. */
const DESCRIPTION_MAX = 140;
/** States of a deployment the runner has created and not yet finished. */
const ACTIVE_STATES = new Set(['queued', 'in_progress', 'pending']);
/** How many of an environment's deployments lastSuccessful reads before giving up. */
const SCAN_LIMIT = 200;
const PAGE_SIZE = 100;
/** The HTTP status an Octokit RequestError carries, if the error is one. */
function deployments_httpStatus(e) {
    const status = typeof e === 'object' && e !== null ? e.status : undefined;
    return typeof status === 'number' ? status : undefined;
}
/** Cut to `max` characters (code points, so no surrogate is split), marking the cut. */
function truncateDescription(text, max = DESCRIPTION_MAX) {
    const chars = Array.from(text);
    return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
/** The model a deployment payload names; GitHub may hand the payload back as a JSON string. */
function identityOf(payload) {
    let value = payload;
    if (typeof value === 'string') {
        try {
            value = JSON.parse(value);
        }
        catch {
            return undefined;
        }
    }
    if (typeof value !== 'object' || value === null)
        return undefined;
    const { name, version, digest } = value;
    if (typeof name !== 'string' || typeof version !== 'string')
        return undefined;
    return { name, version, ...(typeof digest === 'string' ? { digest } : {}) };
}
/*
 * A deployment the runner created for the job's `environment:` carries the runner's payload (`{}`), and
 * deployments cannot be edited. So on an attached deployment the model is named at the end of each
 * status description we write, where lastSuccessful can read it back.
 */
const MARKER = /\[modelgate (\S+)@([^@\s\]]+)\]$/;
function statusDescription(text, identity) {
    if (!identity)
        return truncateDescription(text);
    const marker = `[modelgate ${identity.name}@${identity.version}]`;
    const room = DESCRIPTION_MAX - marker.length - 1;
    return room > 0 ? `${truncateDescription(text, room)} ${marker}` : truncateDescription(text);
}
function markedIdentity(status) {
    const m = MARKER.exec(status.description ?? '');
    return m ? { name: m[1], version: m[2] } : undefined;
}
/** The workflow run a status links to (Actions writes `…/actions/runs/{run_id}/job/{job_id}`). */
function runOf(status) {
    return /\/actions\/runs\/(\d+)(?:\/|$)/.exec(status.log_url || status.target_url || '')?.[1];
}
function isProduction(environment) {
    return /^(production|prod)$/i.test(environment);
}
const NO_LEDGER = {
    start: async () => undefined,
    finish: async () => undefined,
    lastSuccessful: async () => undefined,
};
/** A DeploymentLedger over the GitHub REST API; a ledger that records nothing without a token and repository. */
function createGitHubDeploymentLedger(opts) {
    const { token, owner, repo } = opts;
    if (!token || !owner || !repo)
        return NO_LEDGER;
    const baseUrl = opts.baseUrl ?? process.env.GITHUB_API_URL ?? 'https://api.github.com';
    const octokit = (0,github/* getOctokit */.Q)(token, { baseUrl });
    const where = { owner, repo };
    const runId = opts.runId === undefined || opts.runId === '' ? undefined : String(opts.runId);
    /** What start knew about each deployment, for finish. */
    const started = new Map();
    function failure(e, doing) {
        const status = deployments_httpStatus(e);
        const said = (0,errors/* errorText */.kc)(e);
        const at = `${owner}/${repo}`;
        if (status === 401) {
            return new errors/* UserError */.yo(`GitHub rejected the token (401: ${said}) while ${doing} in ${at}: pass a valid github-token`, {
                field: 'github-token',
                cause: e,
            });
        }
        if ((status === 403 && !/rate limit/i.test(said)) || status === 404) {
            return new errors/* UserError */.yo(`GitHub answered ${status} (${said}) while ${doing} in ${at}: add \`permissions: deployments: write\` to the job ` +
                `(and make sure the environment's protection rules allow this ref), or set deployment: false to deploy without a record`, { field: 'permissions.deployments', cause: e });
        }
        if (status === 409) {
            return new Error(`GitHub refused (409: ${said}) while ${doing} in ${at}: a merge conflict or failed required status checks on the ref`, { cause: e });
        }
        return new Error(`GitHub answered ${status} while ${doing} in ${at}: ${said}`, { cause: e });
    }
    async function call(doing, request) {
        try {
            return await request();
        }
        catch (e) {
            // Only GitHub's answers are translated; our own errors already say what happened.
            throw deployments_httpStatus(e) === undefined ? e : failure(e, doing);
        }
    }
    async function statusesOf(id) {
        const { data } = await octokit.rest.repos.listDeploymentStatuses({ ...where, deployment_id: id, per_page: PAGE_SIZE });
        return data;
    }
    /**
     * The deployment the runner made for a job that declared `environment:`: the newest for this commit
     * and environment that is still open, not made by a deploy-model start, and, when its statuses link
     * to a workflow run, linking to this one.
     */
    async function runnerDeployment(environment) {
        const { data } = await octokit.rest.repos.listDeployments({ ...where, sha: opts.sha, environment, per_page: PAGE_SIZE });
        for (const d of data) {
            if (identityOf(d.payload))
                continue;
            const statuses = await statusesOf(Number(d.id));
            if (statuses[0] && !ACTIVE_STATES.has(statuses[0].state))
                continue;
            const runs = statuses.map(runOf).filter((r) => r !== undefined);
            if (runId && runs.length > 0 && !runs.includes(runId))
                continue;
            return { id: Number(d.id), url: d.url };
        }
        return undefined;
    }
    async function createDeployment(o) {
        const response = await octokit.rest.repos.createDeployment({
            ...where,
            ref: o.ref,
            environment: o.environment,
            task: 'deploy',
            // Deploy exactly this ref: no merge of the default branch, no wait on commit statuses.
            auto_merge: false,
            required_contexts: [],
            payload: o.payload,
            description: truncateDescription(o.description),
            ...(isProduction(o.environment) ? { production_environment: true } : {}),
        });
        // 202 is the documented answer when GitHub merged instead of creating; auto_merge: false should rule it out.
        if (response.status !== 201 || !('id' in response.data)) {
            const message = response.data.message ?? 'no deployment created';
            throw new Error(`GitHub did not create the deployment of ${o.ref} to ${o.environment} (${response.status}: ${message})`);
        }
        return { id: Number(response.data.id), url: response.data.url };
    }
    return {
        async start(o) {
            const identity = identityOf(o.payload);
            const doing = `starting the deployment to '${o.environment}'`;
            const found = await call(doing, () => runnerDeployment(o.environment));
            const deployment = found ?? (await call(doing, () => createDeployment(o)));
            const attached = found !== undefined;
            started.set(deployment.id, { identity, attached, logUrl: o.logUrl });
            await call(doing, () => octokit.rest.repos.createDeploymentStatus({
                ...where,
                deployment_id: deployment.id,
                state: 'in_progress',
                log_url: o.logUrl,
                description: statusDescription(o.description, attached ? identity : undefined),
            }));
            return { id: deployment.id, url: deployment.url, attached };
        },
        async finish(id, o) {
            const known = started.get(id);
            await call(`recording '${o.state}' on deployment ${id}`, () => octokit.rest.repos.createDeploymentStatus({
                ...where,
                deployment_id: id,
                state: o.state,
                environment_url: o.environmentUrl,
                log_url: o.logUrl ?? known?.logUrl,
                description: statusDescription(o.description, known?.attached ? known.identity : undefined),
                ...(o.state === 'success' ? { auto_inactive: true } : {}),
            }));
        },
        async lastSuccessful(environment, name) {
            return call(`reading the deployments of '${environment}'`, async () => {
                let scanned = 0;
                const pages = octokit.paginate.iterator(octokit.rest.repos.listDeployments, { ...where, environment, per_page: PAGE_SIZE });
                for await (const { data } of pages) {
                    for (const d of data) {
                        if (++scanned > SCAN_LIMIT)
                            return undefined;
                        const fromPayload = identityOf(d.payload);
                        if (fromPayload && fromPayload.name !== name)
                            continue;
                        const statuses = await statusesOf(Number(d.id));
                        if (statuses[0]?.state !== 'success')
                            continue;
                        if (fromPayload)
                            return { version: fromPayload.version, ...(fromPayload.digest ? { digest: fromPayload.digest } : {}) };
                        // An attached deployment: our own newest word on it must name the model and be a success too.
                        const ours = statuses.find((s) => markedIdentity(s));
                        const marked = ours && markedIdentity(ours);
                        if (marked?.name === name && ours.state === 'success')
                            return { version: marked.version };
                    }
                }
                return undefined;
            });
        },
    };
}

;// CONCATENATED MODULE: ./src/adapters/github/index.ts
/**
 * The adapters over @actions/core and @actions/github, in one module: src/actions/github.ts imports it when an
 * action runs, so that ncc puts it (with undici under @actions/*) in a chunk of the shared bundle of its own
 * and the CLI never loads it.
 */






/***/ })

};
